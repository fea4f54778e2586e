"""What a bank login does in the emulator: the sandbox test users decide the outcome.

An open-banking bank has no login here: the person approves or denies at the bank's
(simulated) page, and the connection belongs to one customer of that bank.
"""

from __future__ import annotations

from dataclasses import dataclass

# Basiq's documented sandbox users, and the people their names belong to (for profiles).
SUCCESS_USERS: dict[str, tuple[str, str]] = {
    "Wentworth-Smith": ("whislter", "Laurie Wentworth-Smith"),
    "gavinBelson": ("hooli2016", "Gavin Belson"),
    "jared": ("django", "Jared Dunn"),
    "richard": ("tabsnotspaces", "Richard Hendricks"),
    "Whistler": ("ShowBox", "Jack Whistler"),
    "Gilfoyle": ("PiedPiper", "Bertram Gilfoyle"),
    "laurieBream": ("business2024", "Laurie Bream"),
    "ashMann": ("hooli2024", "Ash Mann"),
}

MFA_ANSWERS: dict[str, tuple[str, ...]] = {
    "jared": ("1234",),
    "richard": ("1234",),
    "gavinBelson": ("Hooli",),
    "Gilfoyle": ("Hooli",),
    "Whistler": ("Basiq", "AU00000"),
    "Wentworth-Smith": ("Basiq", "AU00000"),
}

# The customer an open-banking approval connects, and the name the bank gives for them.
OPEN_BANKING_CUSTOMER = "open-banking-customer"
OPEN_BANKING_NAME = "Sam Citizen"

CANNOT_LOGIN = "Cannot login to target institution, check credentials."


@dataclass(frozen=True)
class Failure:
    code: str
    title: str
    detail: str

    def as_result(self) -> dict[str, str]:
        return {"code": self.code, "title": self.title, "detail": self.detail}


INVALID_CREDENTIALS = Failure(
    "invalid-credentials",
    CANNOT_LOGIN,
    "Cannot login to target institution using supplied credentials. "
    "Please check credentials and try again.",
)
LOCKED = Failure(
    "invalid-credentials",
    "Account is locked",
    "Account is locked. Contact your bank to unlock it, then try again.",
)
FAILURES: dict[tuple[str, str], Failure] = {
    ("bighead", "password"): LOCKED,
    ("erlich", "aviato"): Failure(
        "account-not-accessible-requires-user-action",
        "Account requires user action",
        "Log in to your online banking and complete the action your bank asks for "
        "(such as accepting new terms), then try again.",
    ),
    ("jianYang", "nothotdog"): Failure(
        "service-unavailable",
        "Service unavailable",
        "The institution's online banking is not available at the moment. Please try later.",
    ),
}
MFA_WRONG = Failure(
    "invalid-credentials",
    CANNOT_LOGIN,
    "The answer to the security challenge was not accepted. Please try again.",
)
# What Basiq's job shows when the person denies access at an open-banking bank.
ACCESS_DENIED = Failure("authorization-failed", "Authorization failed", "access_denied")
MFA_EXPIRED = Failure(
    "job-timed-out",
    "Security challenge expired",
    "The security challenge was not answered in time. Please try again.",
)


def login(login_id: str, password: str) -> Failure | None:
    """None when the credentials are good, else why the bank refuses them."""
    known = SUCCESS_USERS.get(login_id)
    if known and known[0] == password:
        return None
    return FAILURES.get((login_id, password), INVALID_CREDENTIALS)


def full_name(login_id: str) -> str:
    if login_id == OPEN_BANKING_CUSTOMER:
        return OPEN_BANKING_NAME
    return SUCCESS_USERS.get(login_id, ("", login_id))[1]


def mfa_challenge(login_id: str) -> dict[str, object]:
    """The challenge a test user is asked; its shape is Basiq's mfa step result."""
    answers = MFA_ANSWERS.get(login_id, ("1234",))
    if answers == ("1234",):
        return {
            "method": "token",
            "description": "Enter the one-time code sent to your phone (test code: 1234).",
            "input": ["One-time code"],
        }
    if len(answers) == 1:
        return {
            "method": "security-questions",
            "description": "Answer your security question.",
            "input": ["Which company did you work for? (test answer: Hooli)"],
        }
    return {
        "method": "security-questions",
        "description": "Answer your security questions.",
        "input": [
            "Which company built this sandbox? (test answer: Basiq)",
            "Which institution id is Hooli's? (test answer: AU00000)",
        ],
    }


def mfa_accepts(login_id: str, response: list[str]) -> bool:
    expected = MFA_ANSWERS.get(login_id, ("1234",))
    return tuple(answer.strip() for answer in response) == expected
