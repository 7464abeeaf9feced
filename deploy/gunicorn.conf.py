"""gunicorn settings for the web site, from the same environment variables as the rest of mailtrail."""

import multiprocessing
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mailtrail.env import env_int, env_list, env_str  # noqa: E402

wsgi_app = "webui.wsgi:application"
# 127.0.0.1 behind a reverse proxy on the same machine; the container listens on 0.0.0.0.
bind = env_str("MAILTRAIL_BIND", "127.0.0.1:8000")
# sync workers: each request is a few short queries; 2 per core + 1 is gunicorn's own advice
workers = env_int("MAILTRAIL_WEB_WORKERS", 2 * multiprocessing.cpu_count() + 1, minimum=1)
# longer than the web role's statement timeout (MAILTRAIL_WEB_STATEMENT_TIMEOUT_MS, 10 s by default)
timeout = env_int("MAILTRAIL_WEB_TIMEOUT", 30, minimum=5)
graceful_timeout = 30
# the addresses of the reverse proxies whose X-Forwarded-* headers gunicorn may believe
forwarded_allow_ips = ",".join(env_list("MAILTRAIL_FORWARDED_ALLOW_IPS", ["127.0.0.1", "::1"]))
accesslog = "-"
errorlog = "-"
# no query string in the access log: a Message-ID or an account searched for is personal data
access_log_format = '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
max_requests = 10_000  # recycle workers now and then; jitter keeps them from restarting together
max_requests_jitter = 1_000
