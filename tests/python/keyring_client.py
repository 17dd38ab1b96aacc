"""What a client of Python's `keyring` sees in an environment with the conda plugin's keyring
backend, and what it writes through it. Prints JSON.

Usage:
  python keyring_client.py backend                     the backend keyring chose
  python keyring_client.py get SERVICE USERNAME        keyring.get_password
  python keyring_client.py credential SERVICE          keyring.get_credential(SERVICE, None)
  python keyring_client.py set SERVICE USERNAME        keyring.set_password, the password on stdin
  python keyring_client.py save-api-key DOMAIN         anaconda-auth's login tail: load, set the
                                                       key read from stdin, save
  python keyring_client.py logout DOMAIN               anaconda-auth's logout (a delete)
"""

import json
import sys
import time

import keyring

# As in every program that uses anaconda-auth: its backends are known to keyring, so the one
# that would answer without ours is its file (priority 11 in its default configuration).
import anaconda_auth.token  # noqa: F401


def main() -> None:
    verb, *args = sys.argv[1:]
    started = time.monotonic()
    out = {}
    if verb == "backend":
        out["backend"] = type(keyring.get_keyring()).__name__
        out["next"] = type(keyring.get_keyring().next).__name__
    elif verb == "get":
        out["password"] = keyring.get_password(args[0], args[1])
    elif verb == "credential":
        credential = keyring.get_credential(args[0], None)
        out["credential"] = (
            None if credential is None else [credential.username, credential.password]
        )
    elif verb == "set":
        keyring.set_password(args[0], args[1], sys.stdin.read().strip())
    elif verb == "save-api-key":
        from anaconda_auth.token import TokenInfo

        info = TokenInfo.load(domain=args[0], create=True)
        info.api_key = sys.stdin.read().strip()
        info.save()
    elif verb == "logout":
        from anaconda_auth.token import TokenInfo

        # What `anaconda logout` does for a domain.
        TokenInfo.load(domain=args[0]).delete()
    else:
        raise SystemExit(f"unknown verb {verb}")
    out["seconds"] = time.monotonic() - started
    print(json.dumps(out))


if __name__ == "__main__":
    main()
