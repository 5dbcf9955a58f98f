"""Text stage: fonts, copy layout (glyph layout) and typesetting; OCR engines live in text/ocr."""
