"""The API's error shape is the domain's: one entry per bad field (``domain.errors``)."""

from domain.errors import FieldError, field_errors, field_path

__all__ = ["FieldError", "field_errors", "field_path"]
