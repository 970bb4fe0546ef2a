"""Pure array functions on harmonized signals: quality, band powers, multitaper spectrograms, topomaps."""
