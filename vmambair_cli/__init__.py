"""vmambair command line (Typer): parses, calls vmambair_core, renders."""
