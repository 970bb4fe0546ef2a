"""Clinical knowledge: the findings schema, the phantom, report text both ways (render / label)."""
