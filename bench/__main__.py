import importlib
import pkgutil
import sys

import django


def main() -> None:
    django.setup()
    import bench

    # Bench names first; options after them (`soak --minutes 3`) are the benches' own.
    names = sys.argv[1:]
    options = next((i for i, arg in enumerate(names) if arg.startswith("-")), len(names))
    wanted = set(names[:options])
    # Skip this runner itself (__main__) and any private helper module.
    for module in sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_")):
        if wanted and module not in wanted:
            continue
        benchmark = importlib.import_module(f"bench.{module}")
        if not hasattr(benchmark, "run"):
            continue  # bench.settings, bench.urls: the check bench's server wiring
        print(f"\n=== bench.{module} ===", flush=True)
        benchmark.run()


if __name__ == "__main__":
    main()
