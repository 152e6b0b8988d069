"""NERSC sources (``decisionengine_modules.NERSC.sources.*``): allocations via the Superfacility API.

``NerscSFApi`` gets an OAuth2 access token with the client-credentials grant (``private_key_jwt`` as
NERSC's SF API clients require, or ``client_secret_basic``) and reads ``GET {query_url}``
(``/api/v1.2/account/projects``): one row per project of the configured repo, with the original's
columns.  Per account (the original's "username"): ``client_id`` (not a secret) and ``private_key`` — a
*reference* (``{env: NAME}``, ``{secrets_manager: ARN, key?: FIELD}`` or ``{file: PATH}``), never the key.

The original's ``constraints`` layout (``usernames``, ``token_url``, ``query_url`` and per user
``private_key``/``client_id_file`` paths) is accepted too; its ``rawfile`` token cache is ignored
(tokens are cached in memory).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, model_validator

from hepde.modules.base import ModuleParameters, Source
from hepde.modules.cloud.common import CloudConfigError, ProviderError, read_csv
from hepde.modules.cloud.http import ClientCredentials, HttpClient, Transport
from hepde.modules.cloud.secrets import SecretRef

TOKEN_URL = "https://oidc.nersc.gov/c2id/token"
QUERY_URL = "https://api.nersc.gov/api/v1.2/account/projects"
#: the original's account name -> repo map
LOCALMAP = {"uscms": "m2612", "fife": "m4599", "dunepro": "m3249"}
KEYS = ["hours_given", "hours_used", "id", "project_hours_given", "project_hours_used", "repo_name"]
COLUMNS = [*KEYS, "real_name"]


class NerscAccount(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    client_id: str | None = None
    #: the original's file holding the client id
    client_id_file: str | None = None
    private_key: SecretRef | None = None
    client_secret: SecretRef | None = None
    auth_method: str = "private_key_jwt"
    #: the project (repo) to report; default from the original's map (uscms→m2612, fife→m4599, dunepro→m3249)
    repo: str | None = None
    #: accepted for compatibility with the original's configuration; not used
    rawfile: str | None = None

    @model_validator(mode="after")
    def _check(self) -> NerscAccount:
        if bool(self.client_id) == bool(self.client_id_file):
            raise ValueError("give exactly one of client_id, client_id_file")
        if self.auth_method == "private_key_jwt" and self.private_key is None:
            raise ValueError("auth_method private_key_jwt needs 'private_key' (a secret reference)")
        if self.auth_method == "client_secret_basic" and self.client_secret is None:
            raise ValueError("auth_method client_secret_basic needs 'client_secret' (a secret reference)")
        if self.auth_method not in ("private_key_jwt", "client_secret_basic"):
            raise ValueError("auth_method must be 'private_key_jwt' or 'client_secret_basic'")
        return self

    def resolved_client_id(self) -> str:
        if self.client_id:
            return self.client_id
        try:
            return Path(self.client_id_file or "").read_text().strip()
        except OSError as exc:
            raise CloudConfigError(
                f"client_id_file '{self.client_id_file}' cannot be read: {exc.strerror or exc}"
            ) from exc


def _from_constraints(constraints: dict[str, Any]) -> tuple[dict[str, NerscAccount], str | None, str | None]:
    accounts: dict[str, NerscAccount] = {}
    for user in constraints.get("usernames", []):
        entry = constraints.get(user)
        if not isinstance(entry, dict):
            raise CloudConfigError(
                f"NerscSFApi: constraints.{user}: expected {{private_key, client_id_file}}"
            )
        accounts[user] = NerscAccount(
            client_id_file=entry.get("client_id_file"),
            client_id=entry.get("client_id"),
            private_key=SecretRef(file=entry["private_key"])
            if isinstance(entry.get("private_key"), str)
            else entry.get("private_key"),
            rawfile=entry.get("rawfile"),
        )
    return accounts, constraints.get("token_url"), constraints.get("query_url")


def allocation_rows(projects: Any, account: str, repo: str | None) -> list[dict[str, Any]]:
    if not isinstance(projects, list):
        raise ProviderError(
            f"NERSC account/projects for '{account}': expected a JSON list, got {type(projects).__name__}"
        )
    rows = []
    for project in projects:
        if not isinstance(project, dict) or (repo and project.get("repo_name") != repo):
            continue
        rows.append({**{k: project.get(k) for k in KEYS}, "real_name": account})
    return rows


@Source.produces(Nersc_Allocation_SFAPI=pd.DataFrame)
class NerscSFApi(Source):
    """NERSC project allocations (hours given/used) per configured account, from the Superfacility API."""

    params: Parameters

    class Parameters(ModuleParameters):
        accounts: dict[str, NerscAccount] | None = None
        #: the original's layout (see the module docstring)
        constraints: dict[str, Any] | None = None
        token_url: str = TOKEN_URL
        query_url: str = QUERY_URL
        max_retries: int = 3
        retry_timeout: float = 10.0

    transport: Transport | None = None

    def __init__(self, parameters=None, *, channel_name: str = "") -> None:
        super().__init__(parameters, channel_name=channel_name)
        token_url, query_url = self.params.token_url, self.params.query_url
        if self.params.constraints is not None:
            try:
                accounts, t, q = _from_constraints(self.params.constraints)
            except (ValueError, KeyError) as exc:
                raise CloudConfigError(f"NerscSFApi: constraints: {exc}") from exc
            token_url, query_url = t or token_url, q or query_url
        else:
            accounts = dict(self.params.accounts or {})
        if not accounts:
            raise CloudConfigError(
                "NerscSFApi: configure at least one account ('accounts' or 'constraints.usernames')"
            )
        self.accounts, self.token_url, self.query_url = accounts, token_url, query_url

    def _http(self) -> HttpClient:
        return HttpClient(
            self.transport, retries=self.params.max_retries, retry_wait=self.params.retry_timeout
        )

    def _token(self, account: NerscAccount, http: HttpClient) -> str:
        """An access token; cached per (token URL, client) in this process until shortly before it expires."""
        ref = account.private_key if account.auth_method == "private_key_jwt" else account.client_secret
        assert ref is not None
        return ClientCredentials(
            http, self.token_url, account.resolved_client_id(), ref.resolve, auth_method=account.auth_method
        ).token()

    def acquire(self) -> dict[str, pd.DataFrame]:
        http = self._http()
        rows: list[dict[str, Any]] = []
        for name, account in self.accounts.items():
            token = self._token(account, http)
            projects = http.get_json(self.query_url, headers={"Authorization": f"Bearer {token}"})
            rows += allocation_rows(projects, name, account.repo or LOCALMAP.get(name))
        return {"Nersc_Allocation_SFAPI": pd.DataFrame(rows, columns=COLUMNS)}


@Source.produces(Nersc_Instance_Performance=pd.DataFrame)
class NerscInstancePerformance(Source):
    """The NERSC instance performance CSV as it is."""

    params: Parameters

    class Parameters(ModuleParameters):
        csv_file: str

    def acquire(self) -> dict[str, pd.DataFrame]:
        return {
            "Nersc_Instance_Performance": read_csv(
                self.params.csv_file,
                what="NerscInstancePerformance csv_file",
                required=("EntryName", "OnDemandPrice", "PerfTtbarTotal"),
            )
        }
