"""localbucket (a local S3 that keeps objects as files) as the durable stack runs it, under Tansu:

- TCP_NODELAY on accepted sockets: without it delayed ACKs hold it at ~33 requests/s;
- a LIST reads only the folder its prefix names, not the whole bucket. Tansu lists a partition's
  batches on every fetch; walking the whole bucket took 0.6 s at 1,300 objects, longer than the
  consumers' fetch wait, and they received nothing. The keys returned are the same: a key that
  starts with the prefix lies under the prefix's folder.

    python local_s3.py DATA_ROOT --port PORT
"""
import logging
import os
import sys
from pathlib import Path

import localbucket

localbucket.S3Handler.disable_nagle_algorithm = True
localbucket.logger.setLevel(logging.WARNING)  # a line per request otherwise


def list_entries(self, bucket_dir, prefix, delimiter, marker, marker_is_prefix, max_keys):
    """One page of keys and common prefixes after the marker (localbucket's contract)."""
    folder = Path(bucket_dir, prefix.rpartition("/")[0])
    keys = []
    for directory, _, files in os.walk(folder):
        for name in files:
            if not name.startswith(localbucket.TEMP_PREFIX):
                path = Path(directory, name)
                key = path.relative_to(bucket_dir).as_posix()
                if key.startswith(prefix):
                    keys.append((key, path))
    keys.sort(key=lambda item: item[0].encode())
    contents, prefixes, last, truncated = [], [], "", False
    for key, path in keys:
        if marker and (key.encode() <= marker.encode() or (marker_is_prefix and key.startswith(marker))):
            continue
        cut = key.find(delimiter, len(prefix)) if delimiter else -1
        common = key[: cut + len(delimiter)] if cut >= 0 else ""
        if common and prefixes and prefixes[-1] == common:
            continue
        if len(contents) + len(prefixes) >= max_keys:
            truncated = max_keys > 0
            break
        if common:
            prefixes.append(common)
            last = "P:" + common
        else:
            contents.append((key, path))
            last = "K:" + key
    return contents, prefixes, truncated, last


localbucket.S3Handler._list_entries = list_entries

if __name__ == "__main__":
    sys.argv[0] = "localbucket"
    localbucket.main()
