"""ESC/POS receipt printers: Vietnamese rendered as raster images, layouts, encoding, transports.

- `profiles`: what a printer model can do (paper width, native QR, code page, status).
- `render`: Vietnamese text to 1-bit images with the bundled DejaVu fonts.
- `layout`: tickets, dossier receipts, fee receipts and the test page as blocks.
- `encode`: ESC/POS bytes (efficient, and the naive full-page raster baseline).
- `transport`: `open_printer(url)` over serial, TCP, USB, a file or the simulator.
"""
