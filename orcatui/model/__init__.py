"""The rules of DESIGN §4 as plain functions over Arrow data: no Textual here."""
