from kecs.cli import main

raise SystemExit(main())
