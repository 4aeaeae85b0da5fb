#!/usr/bin/env python
"""Django's command-line utility; starts the embedded Redis when REDIS_URL is not set."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_project.settings")
    from gateway_project import env
    from gateway_project.embedded_redis import redis_url_from_environment

    redis_url_from_environment(env.var_dir())
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
