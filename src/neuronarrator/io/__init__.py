"""Reading clinical EEG files and bringing them to the harmonized form (DESIGN.md, "Data contracts")."""
