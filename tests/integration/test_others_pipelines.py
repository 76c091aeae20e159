"""Pipelines written by others (tests/integration/pipelines/others/, see its
README for where each file comes from): Deck's, Orca's and Echo's own
test fixtures and Spinnaker's codelab and solution examples, kept
verbatim. Each pipeline in them is saved through the
API and read back (or, where Front50 would refuse it, the refusal is
checked); each whose stages run here is started the way its kind is
started (by hand, with its parameters and artifacts; Orca's ad-hoc
orchestrations through POST /pipelines/start; one that waits for ever is
cancelled once it runs) and followed to the final status a Spinnaker user
would expect, with the order of its stages (each
starts after every stage it requires ended) and its effects checked.

The fixtures are never edited; what the test changes before saving is
listed in the README and done in `substitute` below."""
import json
import os
import sys
import tempfile
import unittest
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mizzen_harness import Server, wait_until  # noqa: E402
from mizzen_flow import Recorder, create_app, get_execution, wait_execution  # noqa: E402
from cloud_util import APP_DIR, close_cloud_server, run_task  # noqa: E402
from trigger_helpers import FakeJenkins  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OTHERS = os.path.join(HERE, "pipelines", "others")

# What each pipeline must do here, by "<file>:<name as written>".
#   start: "manual" (POST /pipelines/{app}/{name}), "adhoc" (POST
#          /pipelines/start with the fixture itself), "cloud" (manual, in
#          order, on the cluster the test deploys first), or None: saved
#          only, and "why" says why it cannot run here.
#   status: the final status a user would expect; "error": text of the
#          failing stage's (or the execution's) message.
#   refused: a start without the expected artifacts is refused (400) with
#          this text; "artifacts": what a user supplies to start it.
DECK = {
    "deck/appengine-pipelineConfigs.json:gae/Deploy a Container":
        {"start": None, "why": "App Engine deploy (containerImageUrl, appengine provider)"},
    "deck/appengine-pipelineConfigs.json:gae/Deploy Many Services From Inline Config File":
        {"start": None, "why": "App Engine deploy (inline app.yaml files)"},
    "deck/appengine-pipelineConfigs.json:gae/Deploy Exploded WAR":
        {"start": None, "why": "App Engine deploy (a WAR from a git repository)"},
    "deck/appengine-pipelineConfigs.json:gae/Trigger from Cloud Build Subscription":
        {"start": "manual", "status": "SUCCEEDED",
         "refused": "Unmatched expected artifact ba157234-4127-4b05-a037-729f98faeb20",
         "artifacts": [{"type": "gcs/object", "name": "gs://sbws/cloud-build-test/app.yaml",
                        "reference": "gs://sbws/cloud-build-test/app.yaml"}]},
    "deck/cloudfoundry-pipelineConfigs.json:cloudfoundryapp/bake-cf-manifest":
        {"start": None, "why": "bakeCloudFoundryManifest (no Cloud Foundry)"},
    "deck/core-pipelineConfigs.json:compute/Simple Wait Pipeline":
        {"start": "manual", "status": "SUCCEEDED"},
    "deck/ecs-pipelineConfigs.json:ecsapp/ecs-demo":
        {"start": None, "why": "ECS deploy (task definition artifact, ecs provider)"},
    "deck/google-pipelineConfigs.json:compute/resize-up":
        {"start": "cloud", "order": 1, "status": "SUCCEEDED"},
    "deck/google-pipelineConfigs.json:compute/resize-down":
        {"start": "cloud", "order": 3, "status": "SUCCEEDED"},
    "deck/google-pipelineConfigs.json:compute/clone":
        {"start": None, "why": "GCE deploy from a GCE image artifact",
         "refused": "Unmatched expected artifact cd50818c-9334-4aa2-b1c3-0d7d4c0c87a7"},
    "deck/google-pipelineConfigs.json:compute/bake+deploy":
        {"start": None, "why": "GCE bake (Rosco's gce baker)",
         "refused": "Unmatched expected artifact 8e62a85b-7631-4161-920b-459611bd3a90"},
    "deck/google-pipelineConfigs.json:compute/gce - bake+deploy":
        {"start": None, "why": "GCE bake (Rosco's gce baker) and GCE deploy"},
    "deck/google-pipelineConfigs.json:compute/Kayenta-Shorter-Lifetimes":
        {"start": "cloud", "order": 2, "status": "TERMINAL",
         "error": "Unknown stage type 'kayentaCanary'"},
    "deck/google-pipelineConfigs.json:compute/Kayenta-Add-New-Canary-Stage":
        {"start": "manual", "status": "TERMINAL"},
    "deck/google-pipelineConfigs.json:compute/Deploy Server Group":
        {"start": None, "why": "GCE bake and deploy",
         "refused": "Unmatched expected artifact ced95e27-79f6-4d3a-9d37-0243a057153f"},
    "deck/google-pipelineConfigs.json:compute/Webhook Artifacts":
        {"start": "manual", "status": "SUCCEEDED"},
}
ORCA = {
    "orca/ad-hoc-deploy-manifest.json:amahajantest/Deploy manifest":
        {"start": None, "why": "deployManifest (no Kubernetes provider)"},
    "orca/ad-hoc-pipeline-with-pipeline-trigger.json:edgartest/wait stage":
        {"start": "adhoc", "status": "SUCCEEDED"},
    "orca/ad-hoc-save-pipeline-permitted-user.json:amahajantest/Save pipeline 'new-test-pipeline'":
        {"start": "adhoc", "status": "SUCCEEDED"},
    "orca/ad-hoc-update-application.json:amahajantest/Update Application: amahajantest":
        {"start": "adhoc", "status": "SUCCEEDED"},
    "orca/v1schema-dependsOn-expected.json:myApp/Stage dependsOn test":
        {"start": "manual", "status": "SUCCEEDED"},
    "orca/v1schema-example-expected.json:myApp/My super awesome pipeline":
        {"start": "manual", "status": "SUCCEEDED"},
    "orca/v1schema-exampleCombined-expected.json:myApp/My super awesome pipeline":
        {"start": "manual", "status": "SUCCEEDED"},
    "orca/v1schema-expectedArtifactsInheritance-expected.json:orca/Unnamed Execution":
        {"start": None, "why": "no stages; its expected artifact has no default",
         "refused": "Unmatched expected artifact an-artifact"},
    "orca/v1schema-inheritance-expected.json:orca/MPT Inheritance Test":
        {"start": "manual", "status": "SUCCEEDED"},
    "orca/v1schema-loops-expected.json:orca/Unnamed Execution":
        {"start": "manual", "status": "SUCCEEDED"},
    "orca/v1schema-modularStageConfig-expected.json:orca/Unnamed Execution":
        {"start": "manual", "status": "SUCCEEDED"},
    "orca/v1schema-modules-expected.json:orca/Unnamed Execution":
        {"start": "manual", "status": "SUCCEEDED"},
    "orca/v1schema-nestedConditionalStage-expected.json:orca/Unnamed Execution":
        {"start": "manual", "status": "SUCCEEDED"},
    "orca/v1schema-parameterInheritance-expected.json:orca/Unnamed Execution":
        {"start": "manual", "status": "TERMINAL"},
    "orca/v1schema-partials-expected.json:orca/Unnamed Execution":
        {"start": "manual", "status": "TERMINAL",
         "error": "the jenkins stage needs 'master' and 'job'"},
    "orca/v1schema-partialsAndModules-expected.json:orca/Unnamed Execution":
        {"start": "manual", "status": "TERMINAL",
         "error": "the jenkins stage needs 'master' and 'job'"},
    "orca/v1schema-simple-expected.json:orca/Unnamed Execution":
        {"start": "manual", "status": "TERMINAL"},
    "orca/v1schema-stageInjection-expected.json:orca/Stage Injection Test":
        {"start": "manual", "status": "SUCCEEDED"},
    "orca/v1schema-stageReplacement-expected.json:orca/MPT Stage Replacement Test":
        {"start": "manual", "status": "TERMINAL",
         "error": "Could not find an image of package orca"},
    "orca/v1schema-triggerInheritance-expected.json:orca/Unnamed Execution":
        {"start": "manual", "status": "TERMINAL"},
    "orca/v1schema-variableParameters-expected.json:orca/Unnamed Execution":
        {"start": "manual", "status": "TERMINAL"},
}
E = "echo/pipelines.json:"
AWS = "AWS bake and deploy (Rosco's aws baker; AWS cluster fields)"
AWS_BAKE = "AWS bake (Rosco's aws baker: baseOs, vmType, storeType)"
FIND_AMI = "findAmi (Orca's name for findImage in 2015; today's Orca has no such type either)"
ECHO = {
    E + "aandy/asdf": {"start": "manual", "status": "TERMINAL"},
    E + "api/testing": {"start": "manual", "status": "SUCCEEDED"},
    E + "bluespar/Moo": {"start": "manual", "status": "TERMINAL"},
    E + "deck/a multi-test": {"start": None, "why": AWS},
    E + "deck/deploy to prestaging": {"start": None, "why": AWS},
    E + "deck/deploy to prod": {"start": None, "why": FIND_AMI},
    E + "deck/test": {"start": None, "why": AWS},
    E + "deck/wait a little then forever":
        {"start": "manual", "cancel_when_running": "Wait a lot", "status": "CANCELED"},
    E + "dexter/bake us-east-1": {"start": "manual", "status": "TERMINAL"},
    E + "edgecenter/dz": {"start": "manual", "status": "SUCCEEDED"},
    E + "edgecenter/foo": {"start": "manual", "status": "SUCCEEDED"},
    E + "flex/Back-to-Back Bake and Deploy": {"start": None, "why": AWS},
    E + "flex/Back-to-Back Bake and Wait": {"start": None, "why": AWS_BAKE},
    E + "flex/Back-to-Back Bakes": {"start": None, "why": AWS_BAKE},
    E + "flex/Single Bake and Multi-Deploy": {"start": None, "why": AWS},
    E + "flex/deploy to test + prestaging": {"start": None, "why": AWS},
    E + "front50/deploy to prestaging": {"start": None, "why": AWS},
    # the file holds two configs of this name without ids: Front50 refuses
    # the second, and so does mizzen
    E + "front50/deploy to prestaging#2": {
        "start": None, "why": "refused: a second config of the same name",
        "save": (400, "A pipeline with name deploy to prestaging already exists in "
                      "application front50")},
    E + "kato/Deploy to Prestaging": {"start": None, "why": AWS},
    E + "front50/Promote to prod": {"start": None, "why": FIND_AMI},
    E + "mimirdemo/deploy-prod": {"start": None, "why": FIND_AMI},
    E + "mort/deploy to prestaging": {"start": None, "why": AWS},
    E + "mort/deploy to test and prestaging": {"start": None, "why": AWS},
    E + "oort/Deploy to prestaging": {"start": None, "why": AWS},
    E + "orca/Bake": {"start": None, "why": AWS_BAKE},
    E + "orca/Bake EAST": {"start": None, "why": AWS_BAKE},
    E + "pond/deploy to prestaging": {"start": None, "why": AWS},
    E + "post/test": {"start": "manual", "status": "TERMINAL"},
    E + "rush/blimp": {"start": None, "why": AWS_BAKE},
    E + "rush/bob the sinner": {"start": None, "why": FIND_AMI},
    E + "rush/te": {"start": None, "why": FIND_AMI},
    E + "spinnakereventsbridge/bake and deploy to test": {"start": None, "why": AWS},
    E + "vts/Bake & Deploy to TEST": {"start": None, "why": AWS_BAKE},
    E + "ztest11/BAR": {"start": None, "why": AWS},
    E + "ztest11/Clone": {"start": None, "why": AWS},
}
K8S = "Kubernetes manifests (deployManifest and the other manifest stages)"
X = "examples/"
EXAMPLES = {
    # a stage that names no load balancer, and a GCE network (TCP) load
    # balancer: the local provider's are HTTP ones with listeners
    "deck/google-load_balancers-pipelineConfigs.json:compute/GCE load balancers":
        {"start": "manual", "status": "TERMINAL",
         "error": "upsertLoadBalancers needs 'loadBalancers'"},
    "deck/google-load_balancers-pipelineConfigs.json:compute/GCE network load balancer":
        {"start": "manual", "status": "TERMINAL",
         "error": "upsertLoadBalancer: listeners[0].externalPort is required"},
    "deck/kubernetes-pipelineConfigs.json:kubernetesapp/bake_and_deploy_manifest":
        {"start": None, "why": K8S},
    "deck/kubernetes-pipelineConfigs.json:kubernetesapp/deployment": {"start": None, "why": K8S},
    X + "bluegreen-pipeline.json:helloworld/bluegreen": {"start": None, "why": K8S},
    X + "gke-kayenta-workshop-deploy-canary-pipeline.json:demo/"
        "Deploy Simple Canary to Production": {"start": None, "why": K8S},
    X + "gke-kayenta-workshop-deploy-to-staging-pipeline.json:demo/Deploy to Staging":
        {"start": None, "why": K8S},
    X + "gke-kayenta-workshop-promotion-pipeline.json:demo/Promote Canary To Production":
        {"start": None, "why": K8S},
    X + "kayenta-automated-canary-1-10.json:sampleapp/Automated Canary Deploy":
        {"start": None, "why": K8S + " and kayentaCanary"},
    # the same pipeline for an older Spinnaker, without an id: a second
    # config of that name, refused as Front50 refuses it
    X + "kayenta-automated-canary-1-9.json:sampleapp/Automated Canary Deploy": {
        "start": None, "why": "refused: a second config of the same name",
        "save": (400, "A pipeline with name Automated Canary Deploy already exists in "
                      "application sampleapp")},
}
EXPECT = dict(DECK, **ORCA, **ECHO, **EXAMPLES)

# The local accounts the test's server has, named as the fixtures name
# theirs, so that their cloud stages run on the local provider unchanged.
ACCOUNTS = [{"name": "local", "regions": ["local"]},
            {"name": "gce", "regions": ["us-central1"]},
            {"name": "myAccount", "regions": ["us-east-1", "us-west-2"]}]


def load_fixtures():
    """[(key, file, pipeline)] for every pipeline of every file, in order;
    key is "<file>:<application>/<name>" (and "#2" for a second one)."""
    out = []
    for sub in sorted(os.listdir(OTHERS)):
        folder = os.path.join(OTHERS, sub)
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".json"):
                continue
            with open(os.path.join(folder, name)) as f:
                doc = json.load(f)
            for p in doc if isinstance(doc, list) else [doc]:
                key = "%s/%s:%s/%s" % (sub, name, p["application"], p["name"])
                n, base = 2, key
                while key in [k for k, _, _ in out]:
                    key, n = "%s#%d" % (base, n), n + 1
                out.append((key, "%s/%s" % (sub, name), p))
    return out


def substitute(key, pipeline, seen, hook_url):
    """What the test changes before saving (the README lists it): Orca's
    renderer writes "id": "unknown" (Front50 keys configs by id, so they
    would replace each other): dropped, and a rendered name repeated in
    an application gets its file's name; the webhook fixture's URL (a port on the
    author's machine) is a local listener; a deploy cluster without an
    image deploys the example web app."""
    p = json.loads(json.dumps(pipeline))
    if p.get("id") == "unknown":
        del p["id"]
        if (p["application"], p["name"]) in seen:
            p["name"] = "%s [%s]" % (p["name"], key.split(":")[0].split("/")[1][:-5])
    seen.add((p["application"], p["name"]))
    for s in p["stages"]:
        if s.get("type") == "webhook" and s.get("url") == "http://localhost:9090":
            s["url"] = hook_url + "/deck-webhook"
        for c in s.get("clusters", []) if s.get("type") == "deploy" else []:
            if "image" not in c and c.get("provider") == "aws" and "capacity" not in c:
                c.update({"image": APP_DIR, "command": ["python3", "$IMAGE_DIR/app.py"],
                          "healthCheck": {"path": "/health"},
                          "capacity": {"min": 1, "max": 1, "desired": 1}})
    return p


def message_of(e):
    """The failing stages' messages and the execution's, for asserts."""
    out = []
    for s in e["stages"]:
        ex = s["context"].get("exception") or {}
        out += (ex.get("details") or {}).get("errors") or []
    return out


class OthersPipelines(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mizzen-others-")
        cls.rec = Recorder().__enter__()
        # Echo's fixtures build on a Jenkins master called "edge"
        cls.jenkins = FakeJenkins()
        for job in ("DZ-test", "DUMMY-BUILD", "EDGE-Master-Family-Build"):
            cls.jenkins.add_build(job, 1)
        conf = os.path.join(cls.tmp, "config.json")
        with open(conf, "w") as f:
            json.dump({"providers": {"local": {"accounts": ACCOUNTS}},
                       "jenkins": {"masters": [{"name": "edge", "address": cls.jenkins.url}]}},
                      f)
        cls.srv = Server(extra_args=["--config", conf], keep_data=True).start()
        try:
            cls.save_all()
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def save_all(cls):
        cls.fixtures = load_fixtures()
        cls.saved = {}   # key -> (the config sent, the config read back)
        cls.refused = {}  # key -> (status, body) of a save mizzen refuses
        apps, seen = set(), set()
        for key, _, pipeline in cls.fixtures:
            if pipeline["application"] not in apps:
                create_app(cls.srv, pipeline["application"])
                apps.add(pipeline["application"])
            cfg = substitute(key, pipeline, seen, cls.rec.url)
            s, body = cls.srv.request("POST", "/pipelines", cfg)
            if "save" in EXPECT.get(key, {}):
                cls.refused[key] = (s, body)
                continue
            assert s == 200, (key, s, body)
            s, got = cls.srv.request("GET", "/applications/%s/pipelineConfigs/%s"
                                     % (cfg["application"], quote(cfg["name"], safe="")))
            assert s == 200, (key, s, got)
            cls.saved[key] = (cfg, got)

    @classmethod
    def tearDownClass(cls):
        close_cloud_server(cls.srv, cls.tmp)
        cls.rec.__exit__(None, None, None)
        cls.jenkins.close()

    # -- helpers ---------------------------------------------------------------

    def start(self, key):
        spec = EXPECT[key]
        cfg, got = self.saved[key]
        if spec["start"] == "adhoc":
            s, b = self.srv.request("POST", "/pipelines/start",
                                    [p for k, _, p in self.fixtures if k == key][0])
        else:
            trigger = {"type": "manual", "user": "tester"}
            if "artifacts" in spec:
                trigger["artifacts"] = spec["artifacts"]
            s, b = self.srv.request("POST", "/pipelines/%s/%s" % (
                got["application"], quote(got["name"], safe="")), trigger)
        self.assertEqual(s, 202, "%s: %s" % (key, b))
        return b["ref"].split("/")[-1]

    def finish(self, key, eid, timeout=180):
        spec = EXPECT[key]
        if "cancel_when_running" in spec:
            # a stage that waits for ever: the user cancels it once it runs
            name = spec["cancel_when_running"]
            wait_until(lambda: [st for st in get_execution(self.srv, eid)["stages"]
                                if st["name"] == name and st["status"] == "RUNNING"],
                       timeout=120, message="%s: stage %s RUNNING" % (key, name))
            s, b = self.srv.request("PUT", "/pipelines/%s/cancel" % eid)
            self.assertIn(s, (200, 202), b)
        e = wait_execution(self.srv, eid, timeout=timeout)
        msgs = message_of(e)
        self.assertEqual(e["status"], spec["status"], "%s: %s" % (key, msgs))
        if "error" in spec:
            self.assertTrue(any(spec["error"] in m for m in msgs), "%s: %s" % (key, msgs))
        self.assert_order(key, e)
        return e

    def assert_order(self, key, e):
        """Every stage that ran started after each stage it requires ended,
        and every stage of the config is in the execution."""
        top = {s["refId"]: s for s in e["stages"] if not s.get("parentStageId")}
        cfg, _ = self.saved[key]
        if all("refId" in s for s in cfg["stages"]):
            self.assertEqual(sorted(top), sorted(s["refId"] for s in cfg["stages"]), key)
        else:
            # a linear pipeline of 2015 (no refIds): its stages run in order
            chain = [s for s in e["stages"] if not s.get("parentStageId")]
            self.assertEqual([s["name"] for s in chain], [s["name"] for s in cfg["stages"]])
            for up, down in zip(chain, chain[1:]):
                self.assertEqual(down["requisiteStageRefIds"], [up["refId"]], key)
        for s in top.values():
            if not s.get("startTime"):
                continue
            for req in s.get("requisiteStageRefIds") or []:
                up = top[req]
                self.assertTrue(up.get("endTime") and up["endTime"] <= s["startTime"],
                                "%s: %s started before %s ended" % (key, s["name"], up["name"]))

    def cluster_groups(self, app, cluster):
        s, gs = self.srv.request("GET", "/applications/%s/serverGroups" % app)
        self.assertEqual(s, 200, gs)
        return sorted([g for g in gs if g["cluster"] == cluster], key=lambda g: g["createdTime"])

    # -- the tests -------------------------------------------------------------

    def test_1_each_is_saved_and_reads_back(self):
        keys = [k for k, _, _ in self.fixtures]
        self.assertGreaterEqual(len(keys), 20)
        self.assertEqual(sorted(keys), sorted(EXPECT), "every pipeline has its expectation")
        for key, (status, body) in self.refused.items():
            with self.subTest(key):
                self.assertEqual((status, body["message"]), EXPECT[key]["save"])
        for key, _, written in self.fixtures:
            if key in self.refused:
                continue
            with self.subTest(key):
                cfg, got = self.saved[key]
                # what the author wrote comes back, unknown keys too
                for k, v in written.items():
                    if k not in ("id", "name", "lastModifiedBy", "updateTs"):
                        self.assertIn(k, got)
                self.assertEqual([s["type"] for s in got["stages"]],
                                 [s["type"] for s in written["stages"]])
                self.assertEqual(got["stages"][0] if got["stages"] else None,
                                 cfg["stages"][0] if cfg["stages"] else None)
                if written.get("id") not in (None, "unknown"):
                    self.assertEqual(got["id"], written["id"])

    def test_2_a_start_without_the_expected_artifacts_is_refused(self):
        for key, spec in EXPECT.items():
            if "refused" not in spec:
                continue
            with self.subTest(key):
                _, got = self.saved[key]
                s, b = self.srv.request("POST", "/pipelines/%s/%s" % (
                    got["application"], quote(got["name"], safe="")), {"type": "manual"})
                self.assertEqual(s, 400, b)
                self.assertIn(spec["refused"], b["message"])

    def test_3_each_that_runs_here_reaches_its_final_status(self):
        # the cloud ones in order, one after the other, on a cluster that
        # Deck's fixtures expect: "compute" in account gce, us-central1
        task = run_task(self.srv, "compute", [{
            "type": "createServerGroup", "application": "compute", "stack": "",
            "account": "gce", "credentials": "gce", "cloudProvider": "local",
            "region": "us-central1", "capacity": {"min": 1, "max": 1, "desired": 1},
            "image": APP_DIR, "command": ["python3", "$IMAGE_DIR/app.py"],
            "healthCheck": {"path": "/health"}}], timeout=120)
        self.assertEqual(task["status"], "SUCCEEDED", task)
        # the others all at once
        started = {k: self.start(k) for k, spec in EXPECT.items()
                   if spec["start"] in ("manual", "adhoc")}
        ran = {}
        for key in sorted((k for k in EXPECT if EXPECT[k]["start"] == "cloud"),
                          key=lambda k: EXPECT[k]["order"]):
            with self.subTest(key):
                ran[key] = self.finish(key, self.start(key))
                check = getattr(self, "check_" + key.rsplit("/", 1)[1].replace("-", "_"), None)
                if check:
                    check(ran[key])
        for key, eid in started.items():
            with self.subTest(key):
                ran[key] = self.finish(key, eid)
        self.check_others(ran)
        saved_only = sorted(k for k in EXPECT if EXPECT[k]["start"] is None and
                            k not in self.refused)
        ok = sum(1 for e in ran.values() if e["status"] == "SUCCEEDED")
        sys.stderr.write("\n%d pipelines by others, %d saved (%d rightly refused), %d run to "
                         "their final status (%d SUCCEEDED, %d TERMINAL or CANCELED as "
                         "expected), %d saved only:\n  %s\n"
                         % (len(EXPECT), len(self.saved), len(self.refused), len(ran), ok,
                            len(ran) - ok, len(saved_only),
                            "\n  ".join("%s (%s)" % (k, EXPECT[k]["why"]) for k in saved_only)))

    def test_4_a_pipeline_for_another_cloud_fails_saying_why(self):
        # saved only: started anyway, it ends TERMINAL at once, naming the
        # accounts there are (what a user coming from App Engine needs)
        key = "deck/appengine-pipelineConfigs.json:gae/Deploy Exploded WAR"
        _, got = self.saved[key]
        s, b = self.srv.request("POST", "/pipelines/gae/" + quote(got["name"], safe=""),
                                {"type": "manual"})
        self.assertEqual(s, 202, b)
        e = wait_execution(self.srv, b["ref"].split("/")[-1], timeout=60)
        self.assertEqual(e["status"], "TERMINAL")
        self.assertIn("unknown account 'gae' for cloud provider local (its accounts: local, "
                      "gce, myAccount)", message_of(e))

    # -- what each should have done ------------------------------------------

    def check_resize_up(self, e):
        (g,) = self.cluster_groups("compute", "compute")
        self.assertEqual(g["capacity"]["desired"], 2, g)

    def check_Kayenta_Shorter_Lifetimes(self, e):
        # findImage and the clone ran; the canary stage is what is missing
        gs = self.cluster_groups("compute", "compute")
        self.assertEqual(len(gs), 2, gs)
        s, a = self.srv.request("GET", "/serverGroups/gce/us-central1/" + gs[0]["name"])
        s, b = self.srv.request("GET", "/serverGroups/gce/us-central1/" + gs[1]["name"])
        self.assertEqual(a["image"]["imageId"], b["image"]["imageId"])
        self.assertEqual(b["capacity"]["desired"], 2, b)

    def check_resize_down(self, e):
        gs = self.cluster_groups("compute", "compute")
        self.assertEqual(gs[-1]["capacity"]["desired"], 0, gs[-1])
        self.assertEqual(gs[0]["capacity"]["desired"], 2, gs[0])

    def check_others(self, ran):
        e = ran["deck/core-pipelineConfigs.json:compute/Simple Wait Pipeline"]
        self.assertEqual(e["trigger"]["parameters"], {"param1": "123", "param2": "abc"})
        e = ran["deck/appengine-pipelineConfigs.json:gae/Trigger from Cloud Build Subscription"]
        self.assertEqual([a["name"] for a in e["trigger"]["artifacts"]],
                         ["gs://sbws/cloud-build-test/app.yaml"])
        self.assertIn("/deck-webhook", [r[1] for r in self.rec.requests if r[0] == "GET"])
        # Orca's ad-hoc updateApplication changed the application
        s, app = self.srv.request("GET", "/applications/amahajantest")
        self.assertEqual(s, 200, app)
        self.assertEqual(app["attributes"]["dataSources"]["enabled"],
                         ["serverGroups", "loadBalancers", "securityGroups"], app)
        # Echo's Jenkins stages started their jobs on master "edge"
        self.assertEqual(sorted(j for j, _ in self.jenkins.started), ["DUMMY-BUILD", "DZ-test"])
        e = ran["echo/pipelines.json:deck/wait a little then forever"]
        self.assertEqual([st["status"] for st in e["stages"]], ["SUCCEEDED", "CANCELED"])
        # Orca's ad-hoc savePipeline saved the pipeline it carries
        s, cfg = self.srv.request("GET", "/applications/amahajantest/pipelineConfigs/"
                                  "new-test-pipeline")
        self.assertEqual(s, 200, cfg)
        self.assertEqual((cfg["index"], cfg["spelEvaluator"], cfg["stages"]), (8, "v4", []))
        # modules' deploy: one server group in each of the two regions
        gs = self.cluster_groups("orca", "orca")
        self.assertEqual(sorted(g["region"] for g in gs), ["us-east-1", "us-west-2"], gs)
        # Orca's stageInjection: "last" waits for both branches
        e = ran["orca/v1schema-stageInjection-expected.json:orca/Stage Injection Test"]
        self.assertEqual([s["name"] for s in sorted(e["stages"], key=lambda s: s["startTime"])
                          ][-1], "last")


if __name__ == "__main__":
    unittest.main()
