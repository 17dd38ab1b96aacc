"""Builds the wheel the emulator's authenticated simple index (/repo/anaconda-wheels/simple/)
serves, into tests/src/emulator/assets/: anacondad_wheel_demo-1.0.0-py3-none-any.whl, one module
that says hello. Kept in the tree so its bytes (and so its sha256) are stable; run again only to
change it: `python3 tests/python/make_demo_wheel.py`."""

import base64
import hashlib
import pathlib
import zipfile

NAME, VERSION = "anacondad_wheel_demo", "1.0.0"
OUT = pathlib.Path(__file__).resolve().parents[1] / "src/emulator/assets" / f"{NAME}-{VERSION}-py3-none-any.whl"
DIST_INFO = f"{NAME}-{VERSION}.dist-info"
# A fixed date keeps the archive byte-for-byte reproducible.
DATE = (2023, 11, 14, 22, 13, 20)

files = {
    f"{NAME}.py": b'GREETING = "hello from the anaconda emulator\'s wheels index"\n',
    f"{DIST_INFO}/METADATA": (
        f"Metadata-Version: 2.1\nName: anacondad-wheel-demo\nVersion: {VERSION}\n"
        "Summary: the wheel the anaconda emulator's simple index serves\n"
    ).encode(),
    f"{DIST_INFO}/WHEEL": (
        b"Wheel-Version: 1.0\nGenerator: make_demo_wheel.py\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n"
    ),
}


def record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


record = "\n".join(record_line(n, d) for n, d in files.items()) + f"\n{DIST_INFO}/RECORD,,\n"
files[f"{DIST_INFO}/RECORD"] = record.encode()

with zipfile.ZipFile(OUT, "w", zipfile.ZIP_DEFLATED) as wheel:
    for name, data in files.items():
        info = zipfile.ZipInfo(name, DATE)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        wheel.writestr(info, data)
print(OUT)
