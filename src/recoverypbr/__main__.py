from recoverypbr.cli import app

app()
