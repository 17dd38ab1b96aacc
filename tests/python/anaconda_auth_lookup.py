"""What the real anaconda-auth 0.15.3 finds for a domain, with whatever configuration the
environment gives it (HOME, ANACONDA_CONFIG_TOML): its `TokenInfo.load(domain)` and its conda
handler's lookup for a channel URL (`AnacondaAuthHandler._load_token`), printed as JSON.

Usage: python anaconda_auth_lookup.py DOMAIN ORG URL
"""

import json
import sys

from anaconda_auth.exceptions import TokenNotFoundError
from anaconda_auth.token import TokenInfo


def main() -> None:
    domain, org, url = sys.argv[1:4]
    found = {"api_key": None, "repo_token": None, "handler_credential": None}
    try:
        info = TokenInfo.load(domain)
        found["api_key"] = info.api_key
        try:
            found["repo_token"] = info.get_repo_token(org)
        except TokenNotFoundError:
            pass
    except TokenNotFoundError:
        pass
    from anaconda_auth._conda.auth_handler import AnacondaAuthHandler

    credential = AnacondaAuthHandler(url)._load_token(url)
    found["handler_credential"] = credential.value
    found["handler_credential_type"] = str(credential.type)
    print(json.dumps(found))


if __name__ == "__main__":
    main()
