"""Sign-in alerts an owner opts into, and the process that sends them (manage.py send_alerts)."""
