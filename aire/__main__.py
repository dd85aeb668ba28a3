import sys

from aire.cli import main

sys.exit(main())
