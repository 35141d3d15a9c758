import sys

from tools.predict.cli import main

sys.exit(main())
