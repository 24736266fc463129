"""Text and structure out of files: PDF (pages), HTML (main text, headings), Markdown and DOCX
(headings), plain text.

`formats` (which media types and file names are files Sluice takes) is light and is all ingest
imports; `sandbox.extract` runs a parser in a child process with bounded time and memory and is
what transform calls; `pdf`, `html`, `markdown`, `docx` and `text` are the parsers, each turning
bytes into an `Extracted` (a title and blocks of text with their page and section) or raising
`ExtractionFailed` with a reason a person can act on.
"""
