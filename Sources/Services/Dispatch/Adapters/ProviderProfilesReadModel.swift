/// The one place Dispatch names the Identity service's `provider_profiles` collection, which it
/// still reads (categories for going online, pricing and rating for search and ranking) and
/// whose `rating`/`ratingCount` the rating projection writes. The seam's rule is that modules
/// share contracts, not collections: this is the exception left (decision 0005), to be replaced
/// by a Dispatch-owned projection fed by `provider.profile-updated` and `review.published`.
enum ProviderProfilesReadModel {
    static let collectionName = "provider_profiles"
}
