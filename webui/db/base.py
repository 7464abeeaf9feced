"""Django's PostgreSQL backend, plus a lazy start of the embedded server (mailtrail/database.py)."""

from pathlib import Path

from django.db.backends.postgresql import base
from mailtrail.database import embedded_url


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params):
        pgdata = self.settings_dict.get("EMBEDDED_PGDATA")
        if pgdata:
            embedded_url(Path(pgdata), self.settings_dict["NAME"])
        return super().get_new_connection(conn_params)
