import sys

from aifunding.cli import main

sys.exit(main())
