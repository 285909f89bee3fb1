"""Sample-sheet generator CLI (the code lives in pipelines.sample_sheet so the demo can use it):
`.venv/bin/python -m bench.gen_leads OUT.xlsx --rows 164809 [--seed 0] [--csv]`."""

from pipelines.sample_sheet import frame, generate, main, write_xlsx

__all__ = ["frame", "generate", "main", "write_xlsx"]

if __name__ == "__main__":
    raise SystemExit(main())
