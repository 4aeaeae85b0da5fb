"""Which bodies are text: every media type but an explicit list of binary ones."""

from __future__ import annotations

# Top-level types whose bodies are never text (image/svg+xml aside: see TEXT_SUFFIXES).
BINARY_TOP_LEVELS = frozenset({"image", "audio", "video", "font", "model"})
BINARY_TYPES = frozenset(
    {
        "application/octet-stream",
        "application/pdf",
        "application/zip",
        "application/gzip",
        "application/x-gzip",
        "application/x-tar",
        "application/x-bzip2",
        "application/x-xz",
        "application/zstd",
        "application/x-7z-compressed",
        "application/vnd.rar",
        "application/x-rar-compressed",
        "application/java-archive",
        "application/x-protobuf",
        "application/protobuf",
        "application/x-google-protobuf",
        "application/vnd.google.protobuf",
        "application/wasm",
        "application/cbor",
        "application/msgpack",
        "application/x-msgpack",
        "application/vnd.apache.parquet",
        "application/vnd.apache.arrow.stream",
        "application/vnd.apache.arrow.file",
        "application/x-sqlite3",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/x-executable",
        "application/vnd.android.package-archive",
    }
)
# Families of binary types: gRPC (application/grpc, application/grpc+proto), Office documents.
BINARY_PREFIXES = (
    "application/grpc",
    "application/vnd.openxmlformats-officedocument.",
    "application/vnd.oasis.opendocument.",
)
BINARY_SUFFIXES = ("+zip", "+gzip", "+cbor", "+proto", "+protobuf")
TEXT_SUFFIXES = ("+json", "+xml", "+yaml")


def media_type(content_type: str) -> str:
    """The `type/subtype` of a Content-Type value, lower case, parameters dropped ("": none)."""
    return content_type.split(";", 1)[0].strip().lower()


def is_binary(content_type: str) -> bool:
    """Whether a body of `content_type` is binary, left untouched by text plugins. Every other
    type is text; a missing one is text when the body decodes as UTF-8 (the reader checks)."""
    media = media_type(content_type)
    if not media or media.endswith(TEXT_SUFFIXES):
        return False
    return (
        media.partition("/")[0] in BINARY_TOP_LEVELS
        or media in BINARY_TYPES
        or media.startswith(BINARY_PREFIXES)
        or media.endswith(BINARY_SUFFIXES)
    )
