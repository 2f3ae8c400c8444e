"""The one application error type; the API's exception handler maps it to the envelope."""


class ApplicationError(Exception):
    status_code = 400
    code = "validation_error"

    def __init__(self, message: str, *, fields: dict | None = None, extra: dict | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        self.extra = extra or {}


class ValidationFailed(ApplicationError):
    status_code = 400
    code = "validation_error"


class NotFound(ApplicationError):
    status_code = 404
    code = "not_found"


class Conflict(ApplicationError):
    status_code = 409
    code = "conflict"


class Unprocessable(ApplicationError):
    status_code = 422
    code = "unprocessable"


class PermissionDenied(ApplicationError):
    status_code = 403
    code = "permission_denied"
