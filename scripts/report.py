"""Table, perplexity plot and samples of every run below a folder: `python scripts/report.py outputs/<dir>`."""

import argparse
from pathlib import Path

from lyrics_rnn.report import write_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path, help="a run folder, or a folder of runs (e.g. a multirun sweep)")
    table, image = write_report(parser.parse_args().folder)
    print(table.read_text(encoding="utf-8"))
    print(f"written: {table} and {image}")


if __name__ == "__main__":
    main()
