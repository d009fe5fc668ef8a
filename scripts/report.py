"""Table, CSV, perplexity plot and samples of every run below a folder (a run, a sweep, outputs/):
`python scripts/report.py outputs/multirun/<sweep>`."""

import argparse
from pathlib import Path

from lyrics_rnn.cli import exit_on_user_error
from lyrics_rnn.report import write_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path, help="a run folder, or a folder of runs (e.g. a multirun sweep)")
    try:
        table, rows, image, best = write_report(parser.parse_args().folder)
    except Exception as error:
        exit_on_user_error(error)
        raise
    print(table.read_text(encoding="utf-8"))
    print("\n".join(best))
    print(f"written: {table}, {rows} and {image}")


if __name__ == "__main__":
    main()
