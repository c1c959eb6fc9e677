/// Geohash cells (base32, interleaved longitude/latitude bits): 5 characters ≈ 4.9 × 4.9 km, the
/// areas supply and demand are compared in.
public enum Geohash {
    static let alphabet = Array("0123456789bcdefghjkmnpqrstuvwxyz")

    public static func encode(lat: Double, lng: Double, precision: Int = 5) -> String {
        var latRange = (-90.0, 90.0), lngRange = (-180.0, 180.0)
        var hash = "", bits = 0, value = 0, even = true
        while hash.count < precision {
            if even {
                let middle = (lngRange.0 + lngRange.1) / 2
                if lng >= middle { value = value << 1 | 1; lngRange.0 = middle } else { value <<= 1; lngRange.1 = middle }
            } else {
                let middle = (latRange.0 + latRange.1) / 2
                if lat >= middle { value = value << 1 | 1; latRange.0 = middle } else { value <<= 1; latRange.1 = middle }
            }
            even.toggle()
            bits += 1
            if bits == 5 {
                hash.append(alphabet[value])
                bits = 0
                value = 0
            }
        }
        return hash
    }

    public static func isValid(_ text: String, precision: Int = 5) -> Bool {
        text.count == precision && text.allSatisfy { alphabet.contains($0) }
    }
}
