"""Runs the steps of anaconda-auth 0.15.3's `anaconda token install --org ORG --yes` that do not
need conda, against whatever ANACONDA_AUTH_DOMAIN points at, and prints what happened as JSON.

The real command imports conda (not installable from PyPI) right after the reissue, so its
`repo_config.validate_token` is replaced here by the request it makes: a HEAD of
`<CONDA_TOKEN_REPO_URL>/t/<token>/repo/main/noarch/repodata.json`, which must answer 200.
Everything else (organisation choice, reissue, storage) is the client's own code.

Usage: python token_install.py ORG   (with CONDA_TOKEN_REPO_URL=https://host:port/repo/)
"""

import json
import os
import sys
from urllib.parse import urlsplit, urlunsplit

import requests

from anaconda_auth.repo import RepoAPIClient
from anaconda_auth.token import TokenInfo


def token_url(repo_url: str, token: str) -> str:
    # conda's Channel.url(with_credentials=True) puts `/t/<token>` before the path.
    parts = urlsplit(repo_url.rstrip("/") + "/main/noarch/repodata.json")
    return urlunsplit(parts._replace(path=f"/t/{token}{parts.path}"))


def main() -> None:
    org = sys.argv[1]
    client = RepoAPIClient()
    business = [o.name for o in client.get_business_organizations_for_user()]
    token = client.issue_new_token(org_name=org, yes=True)
    head = requests.head(
        token_url(os.environ["CONDA_TOKEN_REPO_URL"], token),
        verify=os.environ["REQUESTS_CA_BUNDLE"],
    )
    token_info = TokenInfo.load(create=True)
    token_info.set_repo_token(org, token)
    token_info.save()
    print(
        json.dumps(
            {
                "business_orgs": business,
                "validation_status": head.status_code,
                "stored_token": TokenInfo.load().get_repo_token(org),
            }
        )
    )


if __name__ == "__main__":
    main()
