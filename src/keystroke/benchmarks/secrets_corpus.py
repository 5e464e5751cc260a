"""Realistic fake secrets in realistic places: the corpus of the leak test and `keystroke bench redaction`.

Each format makes random values of the real shape (prefix, alphabet, length) from a seeded generator, and
plants them the way they turn up in code: a settings assignment, a client constructor, a connection string,
a `.env`-style line, a key block. None is a live credential; all look like one to a scanner.
"""

from __future__ import annotations

import base64
import json
import random
import string
from collections.abc import Callable
from dataclasses import dataclass

ALNUM = string.ascii_letters + string.digits
UPPER_DIGITS = string.ascii_uppercase + string.digits
LOWER_HEX = "0123456789abcdef"
URLSAFE = ALNUM + "-_"


@dataclass(frozen=True)
class PlantedSecret:
    kind: str
    secret: str  # the bytes that must never leave
    code: str  # a line (or block) of code holding it


def _pick(rng: random.Random, alphabet: str, length: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _aws_key_id(rng: random.Random) -> PlantedSecret:
    key = "AKIA" + _pick(rng, UPPER_DIGITS, 16)
    return PlantedSecret("aws-access-key-id", key, f'AWS_ACCESS_KEY_ID = "{key}"')


def _aws_secret(rng: random.Random) -> PlantedSecret:
    key = _pick(rng, ALNUM + "+/", 40)
    return PlantedSecret("aws-secret-key", key, f"s3 = boto3.client('s3', aws_secret_access_key='{key}')")


def _github(rng: random.Random) -> PlantedSecret:
    token = rng.choice(["ghp_", "gho_", "ghs_"]) + _pick(rng, ALNUM, 36)
    return PlantedSecret("github-token", token, f'gh = Github(login_or_token="{token}")')


def _github_fine_grained(rng: random.Random) -> PlantedSecret:
    token = f"github_pat_{_pick(rng, ALNUM, 22)}_{_pick(rng, ALNUM, 59)}"
    return PlantedSecret("github-fine-grained-token", token, f'gh = Github("{token}")')  # no secret-looking name


def _gitlab(rng: random.Random) -> PlantedSecret:
    token = "glpat-" + _pick(rng, URLSAFE, 20)
    return PlantedSecret("gitlab-token", token, f"GITLAB_TOKEN={token}")


def _slack(rng: random.Random) -> PlantedSecret:
    token = f"xoxb-{_pick(rng, string.digits, 12)}-{_pick(rng, string.digits, 13)}-{_pick(rng, ALNUM, 24)}"
    return PlantedSecret("slack-token", token, f'slack = WebClient(token="{token}")')


def _slack_webhook(rng: random.Random) -> PlantedSecret:
    url = f"https://hooks.slack.com/services/T{_pick(rng, UPPER_DIGITS, 8)}/B{_pick(rng, UPPER_DIGITS, 10)}/"
    url += _pick(rng, ALNUM, 24)
    return PlantedSecret("slack-webhook", url, f'requests.post("{url}", json={{"text": "deployed"}})')


def _stripe(rng: random.Random) -> PlantedSecret:
    key = rng.choice(["sk_live_", "rk_live_", "sk_test_"]) + _pick(rng, ALNUM, 24)
    return PlantedSecret("stripe-key", key, f'stripe.api_key = "{key}"')


def _openai(rng: random.Random) -> PlantedSecret:
    key = "sk-proj-" + _pick(rng, URLSAFE, 48)
    return PlantedSecret("openai-key", key, f'client = OpenAI(api_key="{key}")')


def _google(rng: random.Random) -> PlantedSecret:
    key = "AIza" + _pick(rng, URLSAFE, 35)
    return PlantedSecret("google-api-key", key, f"MAPS_URL = f'https://maps.googleapis.com/api?key={key}'")


def _sendgrid(rng: random.Random) -> PlantedSecret:
    key = f"SG.{_pick(rng, URLSAFE, 22)}.{_pick(rng, URLSAFE, 43)}"
    return PlantedSecret("sendgrid-key", key, f"sg = SendGridAPIClient('{key}')")


def _jwt(rng: random.Random) -> PlantedSecret:
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = {"sub": _pick(rng, string.digits, 10), "name": rng.choice(["ada", "grace"]), "iat": rng.randrange(10**9)}
    token = f"{header}.{_b64url(json.dumps(claims).encode())}.{_b64url(rng.randbytes(32))}"
    return PlantedSecret("jwt", token, f'headers = {{"Authorization": "Bearer {token}"}}')


def _database_url(rng: random.Random) -> PlantedSecret:
    password = _pick(rng, ALNUM, rng.randrange(12, 20))
    scheme = rng.choice(["postgresql", "mysql", "mongodb+srv", "redis", "amqp"])
    url = f"{scheme}://app:{password}@db.internal.example:5432/orders"
    return PlantedSecret("url-password", password, f'DATABASE_URL = "{url}"')


def _password(rng: random.Random) -> PlantedSecret:
    password = _pick(rng, ALNUM, 8) + rng.choice("!#%+") + _pick(rng, string.digits, 3)
    line = rng.choice(
        [f'DB_PASSWORD = "{password}"', f"password: {password}", f"smtp.login(user, password='{password}')"]
    )
    return PlantedSecret("password-assignment", password, line)


def _high_entropy(rng: random.Random) -> PlantedSecret:
    value = base64.b64encode(rng.randbytes(30)).decode()
    return PlantedSecret("high-entropy", value, f'SIGNING_KEY = "{value}"')


def _private_key(rng: random.Random) -> PlantedSecret:
    body = base64.b64encode(rng.randbytes(360)).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    block = "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END RSA PRIVATE KEY-----"
    return PlantedSecret("private-key", block, f'PRIVATE_KEY = """\n{block}\n"""')


def _pypi(rng: random.Random) -> PlantedSecret:
    token = "pypi-AgEIcHlwaS5vcmc" + _pick(rng, URLSAFE, 80)
    return PlantedSecret("pypi-token", token, f"TWINE_PASSWORD={token}")


FORMATS: dict[str, Callable[[random.Random], PlantedSecret]] = {
    "aws-access-key-id": _aws_key_id,
    "aws-secret-key": _aws_secret,
    "github-token": _github,
    "github-fine-grained-token": _github_fine_grained,
    "gitlab-token": _gitlab,
    "slack-token": _slack,
    "slack-webhook": _slack_webhook,
    "stripe-key": _stripe,
    "openai-key": _openai,
    "google-api-key": _google,
    "sendgrid-key": _sendgrid,
    "jwt": _jwt,
    "url-password": _database_url,
    "password-assignment": _password,
    "high-entropy": _high_entropy,
    "private-key": _private_key,
    "pypi-token": _pypi,
}


def corpus(per_format: int = 4, seed: int = 5) -> list[PlantedSecret]:
    """`per_format` fake secrets of every format (17 formats; 68 secrets by default), reproducibly."""
    rng = random.Random(seed)
    return [make(rng) for make in FORMATS.values() for _ in range(per_format)]
