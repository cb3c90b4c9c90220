"""The rules of docs/design.md §5 as plain functions over Arrow data: no Textual here."""
