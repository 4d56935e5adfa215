"""The stages of ``analyze``, one module each. Each stage exposes

    def run(ctx: AnalysisContext) -> None

and adds its events, summary fields and output files to ``ctx``. A stage that does not
apply to a recording (no video, no cabin camera) returns without doing anything.
"""
