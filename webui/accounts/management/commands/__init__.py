"""`manage.py demo_users`."""
