"""The shape of a field-level error, shared by the API's 422s and recorded rejections."""

from pydantic import BaseModel


class FieldError(BaseModel):
    field: str
    message: str
