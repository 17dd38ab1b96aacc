"""Builds the noarch packages the emulator's channels serve, into tests/src/emulator/assets/:
anacondad-hello-1.0.0-0.tar.bz2 (in `main` and in org channels) by default, or with an argument
`acme-widgets` the package only acme's `internal` channel holds (no default channel has it). Kept
in the tree so the packages' bytes (and so their sha256) are stable; run again only to change one:
`python3 tests/python/make_hello_package.py [acme-widgets]`."""

import io
import json
import pathlib
import sys
import tarfile

NAME = sys.argv[1] if len(sys.argv) > 1 else "anacondad-hello"
VERSION, BUILD = "1.0.0", "0"
OUT = pathlib.Path(__file__).resolve().parents[1] / "src/emulator/assets" / f"{NAME}-{VERSION}-{BUILD}.tar.bz2"
# A fixed mtime keeps the archive byte-for-byte reproducible.
MTIME = 1_700_000_000

payload = (
    b"hello from the anaconda emulator\n"
    if NAME == "anacondad-hello"
    else f"{NAME}: a package of one organisation's channel\n".encode()
)
index = {
    "arch": None,
    "build": BUILD,
    "build_number": 0,
    "depends": [],
    "license": "BSD-3-Clause",
    "name": NAME,
    "noarch": "generic",
    "platform": None,
    "subdir": "noarch",
    "timestamp": MTIME * 1000,
    "version": VERSION,
}
paths = {
    "paths": [
        {"_path": f"share/{NAME}/hello.txt", "path_type": "hardlink", "size_in_bytes": len(payload)}
    ],
    "paths_version": 1,
}
members = {
    "info/index.json": json.dumps(index, indent=2, sort_keys=True).encode(),
    "info/paths.json": json.dumps(paths, indent=2, sort_keys=True).encode(),
    "info/files": f"share/{NAME}/hello.txt\n".encode(),
    f"share/{NAME}/hello.txt": payload,
}
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w:bz2", format=tarfile.PAX_FORMAT) as tar:
    for name, data in members.items():
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mtime = MTIME
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(data))
OUT.write_bytes(buf.getvalue())
print(OUT, len(buf.getvalue()))
