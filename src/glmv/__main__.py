"""``python -m glmv`` runs the command line."""

from glmv.cli import main

main()
