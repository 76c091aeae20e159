"""The expression budget against the real server (issue 9): the ReDoS
expression of the issue, run with a 120 kB parameter in a running pipeline,
ends at once with a per-field budget error instead of holding the store's
write transaction (tens of seconds before), so a pipeline save made at the
same time answers in well under a second.
"""
import threading
import time
import unittest

from mizzen_harness import ServerTestCase, wait_until
from mizzen_flow import create_app, get_execution, run_pipeline, save_pipeline, \
    stage, wait_execution

REDOS = "${parameters.s.replaceAll('(a|aa)*c','x')}"


class ExpressionBudget(ServerTestCase):

    def test_redos_expression_leaves_writes_alone(self):
        create_app(self.server, "budget")
        save_pipeline(self.server, {
            "application": "budget", "name": "redos",
            "parameterConfig": [{"name": "s", "default": ""}],
            "stages": [
                {"refId": "1", "type": "evaluateVariables", "name": "Vars",
                 "variables": [{"key": "out", "value": REDOS}]},
                {"refId": "2", "type": "wait", "name": "Strict", "waitTime": 0,
                 "failOnFailedExpressions": True, "note": REDOS}]})
        # Many executions at once, so the engine evaluates the expression
        # over and over while the saves below wait for the write lock.
        big = "a" * (120 * 1024)
        ids = [run_pipeline(self.server, "budget", "redos",
                            {"type": "manual", "parameters": {"s": big}})
               for _ in range(4)]

        worst = [0.0]

        def saves():
            for i in range(10):
                t0 = time.monotonic()
                status, body = self.server.request("POST", "/pipelines", {
                    "application": "budget", "name": "other-%d" % i,
                    "stages": [{"refId": "1", "type": "wait", "waitTime": 1}]})
                worst[0] = max(worst[0], time.monotonic() - t0)
                assert status == 200, (status, body)
        t = threading.Thread(target=saves)
        t.start()
        t.join(60)
        self.assertFalse(t.is_alive())
        self.assertLess(worst[0], 1.0, "a pipeline save waited %.2fs" % worst[0])

        for exec_id in ids:
            e = wait_execution(self.server, exec_id, timeout=30)
            self.assertEqual(e["status"], "TERMINAL", e["status"])
            summary = stage(e, "Vars")["context"]["expressionEvaluationSummary"]
            text = str(summary)
            self.assertIn("Failed to evaluate [out] Expression budget exceeded: a "
                          "regular expression may run over at most 4096 bytes, "
                          "not 122880 (expressions.maxRegexInputBytes)", text)
            strict = stage(e, "Strict")
            self.assertEqual(strict["status"], "TERMINAL")
            errors = strict["context"]["exception"]["details"]["errors"]
            self.assertTrue(any("Failed to evaluate [note] Expression budget "
                                "exceeded" in x for x in errors), errors)

    def test_small_input_still_evaluates(self):
        create_app(self.server, "budgetok")
        save_pipeline(self.server, {
            "application": "budgetok", "name": "fine",
            "parameterConfig": [{"name": "s", "default": ""}],
            "stages": [{"refId": "1", "type": "evaluateVariables", "name": "Vars",
                        "variables": [{"key": "out", "value": REDOS}]}]})
        exec_id = run_pipeline(self.server, "budgetok", "fine",
                               {"type": "manual", "parameters": {"s": "aaac-aac"}})
        e = wait_execution(self.server, exec_id)
        self.assertEqual(e["status"], "SUCCEEDED")
        self.assertEqual(stage(e, "Vars")["outputs"]["out"], "x-x")


class ConfiguredBudget(ServerTestCase):
    """The settings of the config file's "expressions" object apply."""

    @classmethod
    def setUpClass(cls):
        import json
        import os
        import tempfile
        fd, cls.cfg = tempfile.mkstemp(suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump({"expressions": {"maxStringBytes": 100}}, f)
        cls.server_args = ("--config", cls.cfg)
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        import os
        super().tearDownClass()
        os.unlink(cls.cfg)

    def test_string_limit_from_config(self):
        create_app(self.server, "budgetcfg")
        save_pipeline(self.server, {
            "application": "budgetcfg", "name": "long",
            "stages": [{"refId": "1", "type": "evaluateVariables", "name": "Vars",
                        "variables": [{"key": "out", "value": "${'ab' * 60}"},
                                      {"key": "ok", "value": "${'ab' * 40}"}]}]})
        e = wait_execution(self.server, run_pipeline(self.server, "budgetcfg", "long"))
        vars_stage = stage(e, "Vars")
        self.assertIn("longer than 100 bytes (expressions.maxStringBytes)",
                      str(vars_stage["context"]["expressionEvaluationSummary"]))
        self.assertEqual(vars_stage["outputs"]["ok"], "ab" * 40)


if __name__ == "__main__":
    unittest.main()
