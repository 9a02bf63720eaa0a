"""Domain errors. Each knows its wire code and HTTP status; the edges translate them."""


class ParleyError(Exception):
    code = "internal"
    status = 500

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def to_dict(self) -> dict:
        body = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        return body


class BadRequestError(ParleyError):
    code, status = "bad_request", 400


class ProblemsError(BadRequestError):
    """A document that cannot be saved (a bot flow, business hours): the first problem as the error, all of
    them in `errors` ([{field, message}]), so a form can mark each field."""

    def __init__(self, problems: list[dict]):
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{first['field']}: {first['message']}{more}", field=first["field"])
        self.problems = problems

    def to_dict(self) -> dict:
        return {**super().to_dict(), "errors": self.problems}


class UnauthorizedError(ParleyError):
    code, status = "unauthorized", 401


class PasswordChangeRequiredError(UnauthorizedError):
    """First sign-in with a temporary password: set a new one with this session."""
    code = "password_change_required"

    def __init__(self, session: str):
        super().__init__("choose a new password to finish signing in")
        self.session = session

    def to_dict(self) -> dict:
        return {**super().to_dict(), "session": self.session}


class ForbiddenError(ParleyError):
    code, status = "forbidden", 403


class OriginNotAllowedError(ForbiddenError):
    """A browser page whose Origin the site (or the console's setting) does not list."""

    def __init__(self, origin: str, what: str = "this site"):
        super().__init__(f"{what} does not accept pages from {origin[:200]}")
        self.origin = origin[:200]

    def to_dict(self) -> dict:
        return {**super().to_dict(), "origin": self.origin}


class NotFoundError(ParleyError):
    code, status = "not_found", 404


class ConflictError(ParleyError):
    code, status = "conflict", 409


class CapacityError(ParleyError):
    code, status = "capacity", 409


class TooLargeError(ParleyError):
    code, status = "too_large", 413


class UnavailableError(ParleyError):
    """A store or service failed midway; what was done was undone (the message says), so retry."""
    code, status = "unavailable", 503


class RateLimitedError(ParleyError):
    code, status = "rate_limited", 429

    def __init__(self, message: str, retry_after: float = 0.0):
        super().__init__(message)
        self.retry_after = retry_after

    def to_dict(self) -> dict:
        return {**super().to_dict(), "retry_after": round(self.retry_after, 3)}
