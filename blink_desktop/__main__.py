import sys

from blink_desktop.cli import main

sys.exit(main())
