import sys

from .cli import main

if __name__ == "__main__":  # not when a forkserver or spawn child imports this module
    sys.exit(main())
