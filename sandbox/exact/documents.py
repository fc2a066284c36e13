"""Exact's documents and document attachments."""

import base64
import binascii

from .entities import (
    DOCUMENT,
)
from .errors import bad
from .settings import (
    MAX_ATTACHMENT,
)
from .values import new_guid


class DocumentsMixin:
    """Documents and their attachments (the invoice PDF)."""

    # -- documents -----------------------------------------------------------------------
    def create_document(self, div, body):
        missing = [
            label
            for field, label in (("Subject", "Onderwerp"), ("Type", "Soort"))
            if body.get(field) in (None, "")
        ]
        if missing:
            raise bad("\r\n".join("Verplicht: " + m for m in missing))
        if body.get("Account"):
            self._account(div, str(body["Account"]).lower(), "Relatie")
        row = {name: None for name in DOCUMENT}
        row["ID"] = new_guid()
        self._merge(row, body, DOCUMENT, ("Subject", "Type", "Account", "Body", "DocumentDate"))
        row["Type"] = int(row["Type"])
        row["DocumentDate"] = row["DocumentDate"] or self._today()
        row["HasEmptyBody"] = not row.get("Body")
        return self.save(div, "documents/Documents", row, new=True)

    def update_document(self, div, row, body):
        self._merge(row, body, DOCUMENT, ("Subject", "Body", "DocumentDate", "Account"))
        self.save(div, "documents/Documents", row)

    def create_attachment(self, div, body):
        missing = [
            label
            for field, label in (
                ("Document", "Document"),
                ("FileName", "Bestandsnaam"),
                ("Attachment", "Bijlage"),
            )
            if not body.get(field)
        ]
        if missing:
            raise bad("\r\n".join("Verplicht: " + m for m in missing))
        if not self.get(div, "documents/Documents", str(body["Document"]).lower()):
            raise bad("Ongeldige referentie: Document", 500)
        try:
            size = len(base64.b64decode(body["Attachment"], validate=True))
        except (binascii.Error, ValueError, TypeError):
            raise bad("Ongeldige waarde: Bijlage (geen geldige base64)")
        # E34: at most 10 MB of binary
        if size > MAX_ATTACHMENT:
            raise bad("Het bestand is te groot. De maximale grootte is 10 MB.")
        row = {
            "ID": new_guid(),
            "Document": str(body["Document"]).lower(),
            "FileName": body["FileName"],
            "Attachment": body["Attachment"],
            "FileSize": float(size),
        }
        row["Url"] = f"/docs/DocumentAttachment.aspx?ID={row['ID']}"
        return self.save(div, "documents/DocumentAttachments", row, new=True)
