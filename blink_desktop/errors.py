"""The errors blink-desktop reports to a person.

BlinkError
├── SettingsError      a setting or the config file is wrong
├── StoreError         the local database cannot be read or written
└── ApiError           an upstream HTTP service failed
    ├── ApiUnavailable     it cannot be reached or timed out
    ├── ApiAuthError       it refused our credentials or token
    └── ApiResponseError   it answered with an error or nonsense

Every message says what happened and what to do next, and never contains a secret.
"""

from __future__ import annotations


class BlinkError(Exception):
    """Something went wrong that a person can act on."""


class SettingsError(BlinkError):
    """A setting or the config file is wrong."""


class StoreError(BlinkError):
    """The local database cannot be read or written."""


class ApiError(BlinkError):
    """An upstream HTTP service failed."""


class ApiUnavailable(ApiError):
    """The service cannot be reached, or it did not answer in time."""


class ApiAuthError(ApiError):
    """The service refused our credentials or token."""


class ApiResponseError(ApiError):
    """The service answered with an error, or with something we cannot read."""


class NotFound(ApiResponseError):
    """The service has no such thing (404)."""


class UserUnknown(NotFound):
    """Your server has no such user for this app: it forgot the person (its database was
    rebuilt, or this app's client id changed), or never made them for this app."""
