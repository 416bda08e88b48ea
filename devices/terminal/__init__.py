"""Card POS terminal: Ingenico Telium "Concert" E+ over serial (protocol, link, driver) and its simulator."""
