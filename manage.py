#!/usr/bin/env python
"""Django's command-line utility; starts the embedded Redis when REDIS_URL is not set."""

import os
import sys
from pathlib import Path


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_project.settings")
    from gateway_project.embedded_redis import redis_url_from_environment

    base_dir = Path(__file__).resolve().parent
    redis_url_from_environment(Path(os.environ.get("GATEWAY_VAR_DIR", base_dir / "var")))
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
