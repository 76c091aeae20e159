/* templates.c - Spinnaker's v2 pipeline templates (Orca's V2 renderer and
 * merge): a config {"schema": "v2", "template": {"reference":
 * "spinnaker://ID[:TAG]"}, "variables": {...}, "exclude": [...],
 * "stages": [...]} becomes a plain pipeline config.
 *
 *  - Variables: each of the template's [{name, type, defaultValue}] takes
 *    the config's value, else its default; one with neither, or a value of
 *    the wrong type (int, float, string, boolean, list, object), is an
 *    error. `${templateVariables.x}` in the template's pipeline is
 *    evaluated then; a string that is exactly one expression takes the
 *    value's type. Other expressions are left for run time.
 *  - Inheritance: the pipeline inherits the template's stages, triggers,
 *    parameters, notifications and expected artifacts; "exclude" opts out
 *    of triggers, parameters, notifications (and expectedArtifacts); an
 *    "inherit" list, when given, names the only ones inherited. The
 *    config's own triggers, parameters, notifications and expected
 *    artifacts are added to what it inherits (override = add).
 *  - Stage injection: a config stage with "inject": {"first": true} runs
 *    before every template stage, {"last": true} after all of them,
 *    {"before": [refIds]} / {"after": [refIds]} in the graph just before /
 *    after those stages (their edges are rewired through it). A config
 *    stage without "inject" keeps its own requisiteStageRefIds.
 *
 * The rendered config keeps "schema": "v2" out and records where it came
 * from in "templateRef" (the execution shows which template version ran). */
#include "engine/engine_int.h"

#include <stdlib.h>
#include <string.h>

bool
mz_template_is_v2_config(const json_t *cfg)
{
	return mz_streq(mz_json_str(cfg, "schema"), "v2") &&
	       json_is_object(json_object_get(cfg, "template"));
}

static const char *const TYPES[] = {"int", "float", "string", "boolean", "list", "object",
                                    NULL};

mz_code
mz_template_validate(const json_t *t, mz_err *err)
{
	if (!json_is_object(t))
		return mz_fail(err, MZ_EINVAL, "a pipeline template must be a JSON object");
	if (!mz_streq(mz_json_str(t, "schema"), "v2"))
		return mz_fail(err, MZ_EINVAL, "pipeline template 'schema' must be \"v2\"");
	const char *id = mz_json_str(t, "id");
	if (!id || !*id || strchr(id, ':') || strchr(id, '/'))
		return mz_fail(err, MZ_EINVAL, "pipeline template needs an 'id' (no ':' or '/')");
	json_t *p = json_object_get(t, "pipeline");
	if (!json_is_object(p))
		return mz_fail(err, MZ_EINVAL, "pipeline template needs a 'pipeline' object");
	json_t *vars = json_object_get(t, "variables");
	if (vars && !json_is_array(vars))
		return mz_fail(err, MZ_EINVAL, "template 'variables' must be a list");
	size_t i;
	json_t *v;
	json_array_foreach(vars, i, v) {
		const char *name = mz_json_str(v, "name");
		if (!name || !*name)
			return mz_fail(err, MZ_EINVAL, "template variable %zu needs a 'name'", i + 1);
		const char *type = mz_json_str(v, "type");
		bool known = !type;
		for (int k = 0; TYPES[k] && !known; k++)
			known = strcmp(TYPES[k], type) == 0;
		if (!known)
			return mz_fail(err, MZ_EINVAL, "template variable '%s' has unknown type '%s' "
			               "(int, float, string, boolean, list or object)", name, type);
	}
	/* the template's pipeline must be a valid pipeline once named */
	json_t *probe = json_deep_copy(p);
	json_object_set_new(probe, "application", json_string("template"));
	json_object_set_new(probe, "name", json_string(id));
	mz_code rc = mz_pipeline_validate(probe, err);
	json_decref(probe);
	return rc;
}

static bool
type_ok(const char *type, const json_t *v)
{
	if (!type || json_is_null(v))
		return true;
	if (!strcmp(type, "int"))
		return json_is_integer(v);
	if (!strcmp(type, "float"))
		return json_is_number(v);
	if (!strcmp(type, "string"))
		return json_is_string(v);
	if (!strcmp(type, "boolean"))
		return json_is_boolean(v);
	if (!strcmp(type, "list"))
		return json_is_array(v);
	if (!strcmp(type, "object"))
		return json_is_object(v);
	return true;
}

/* {name: value} from the template's declarations and the config's values. */
static json_t *
bind_variables(const json_t *t, const json_t *cfg, mz_err *err)
{
	json_t *given = json_object_get(cfg, "variables");
	if (given && !json_is_object(given)) {
		mz_fail(err, MZ_EINVAL, "'variables' of a templated pipeline must be an object");
		return NULL;
	}
	json_t *out = json_object();
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(t, "variables"), i, d) {
		const char *name = mz_json_str(d, "name");
		json_t *v = json_object_get(given, name);
		if (!v)
			v = json_object_get(d, "defaultValue");
		if (!v) {
			mz_fail(err, MZ_EINVAL, "missing value for template variable '%s' (it has no "
			        "defaultValue)", name);
			json_decref(out);
			return NULL;
		}
		if (!type_ok(mz_json_str(d, "type"), v)) {
			mz_fail(err, MZ_EINVAL, "template variable '%s' must be of type %s", name,
			        mz_json_str(d, "type"));
			json_decref(out);
			return NULL;
		}
		json_object_set(out, name, v);
	}
	const char *k;
	json_t *v;
	json_object_foreach(given, k, v) {
		if (!json_object_get(out, k)) {
			mz_fail(err, MZ_EINVAL, "variable '%s' is not declared by the template", k);
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

/* Evaluates the ${...} that name templateVariables, in place. */
static mz_code
render_value(json_t **slot, const json_t *root, mz_err *err)
{
	json_t *v = *slot;
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		if (!strstr(s, "templateVariables") || !mz_expr_has(s))
			return MZ_OK;
		json_t *summary = json_object();
		mz_expr_env env = {.strict_unknown_keys = true};
		json_t *res = mz_expr_process(v, root, &env, summary);
		if (json_object_size(summary) > 0) {
			const char *ek;
			json_t *ev;
			json_object_foreach(summary, ek, ev) {
				mz_fail(err, MZ_EINVAL, "template expression ${%s}: %s", ek,
				        mz_json_str(json_array_get(ev, 0), "description"));
				break;
			}
			json_decref(summary);
			json_decref(res);
			return MZ_EINVAL;
		}
		json_decref(summary);
		json_decref(*slot);
		*slot = res;
		return MZ_OK;
	}
	if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v); i++) {
			json_t *e = json_incref(json_array_get(v, i));
			mz_code rc = render_value(&e, root, err);
			if (rc == MZ_OK)
				json_array_set(v, i, e);
			json_decref(e);
			if (rc)
				return rc;
		}
	} else if (json_is_object(v)) {
		const char *k;
		json_t *e;
		json_object_foreach(v, k, e) {
			json_t *x = json_incref(e);
			mz_code rc = render_value(&x, root, err);
			if (rc == MZ_OK)
				json_object_set(v, k, x);
			json_decref(x);
			if (rc)
				return rc;
		}
	}
	return MZ_OK;
}

static bool
in_list(const json_t *list, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach(list, i, v) {
		if (mz_streq(json_string_value(v), s))
			return true;
	}
	return false;
}

/* inherited (template) + own (config) for one list-valued key */
static void
merge_list(json_t *out, const json_t *tp, const json_t *cfg, const char *key,
           const char *cfg_key, bool inherit)
{
	json_t *list = json_array();
	if (inherit && json_is_array(json_object_get(tp, key)))
		json_array_extend(list, json_object_get(tp, key));
	json_t *own = json_object_get(cfg, cfg_key);
	if (!json_is_array(own) && strcmp(key, cfg_key) != 0)
		own = json_object_get(cfg, key);
	if (json_is_array(own))
		json_array_extend(list, own);
	json_object_set_new(out, key, list);
}

static const char *
ref_of(const json_t *stage)
{
	return mz_json_str(stage, "refId");
}

static json_t *
reqs_of(json_t *stage)
{
	json_t *r = json_object_get(stage, "requisiteStageRefIds");
	if (!json_is_array(r)) {
		r = json_array();
		json_object_set_new(stage, "requisiteStageRefIds", r);
	}
	return r;
}

static void
replace_req(json_t *stage, const char *from, const char *to)
{
	json_t *r = reqs_of(stage);
	for (size_t i = 0; i < json_array_size(r); i++)
		if (mz_streq(json_string_value(json_array_get(r, i)), from))
			json_array_set_new(r, i, json_string(to));
}

/* Injects stage s (already holding a refId) into stages. */
static mz_code
inject(json_t *stages, json_t *s, const json_t *how, mz_err *err)
{
	const char *ref = ref_of(s);
	size_t i;
	json_t *t;
	if (mz_json_bool(how, "first", false)) {
		json_object_set_new(s, "requisiteStageRefIds", json_array());
		json_array_foreach(stages, i, t) {
			if (json_array_size(reqs_of(t)) == 0)
				json_array_append_new(reqs_of(t), json_string(ref));
		}
	} else if (mz_json_bool(how, "last", false)) {
		json_t *reqs = json_array();
		json_array_foreach(stages, i, t) {
			bool leaf = true;
			size_t j;
			json_t *u;
			json_array_foreach(stages, j, u) {
				if (in_list(reqs_of(u), ref_of(t)))
					leaf = false;
			}
			if (leaf)
				json_array_append_new(reqs, json_string(ref_of(t)));
		}
		json_object_set_new(s, "requisiteStageRefIds", reqs);
	} else if (json_is_array(json_object_get(how, "before"))) {
		json_t *reqs = json_array();
		json_t *v;
		size_t k;
		json_array_foreach(json_object_get(how, "before"), k, v) {
			bool found = false;
			json_array_foreach(stages, i, t) {
				if (!mz_streq(ref_of(t), json_string_value(v)))
					continue;
				found = true;
				size_t j;
				json_t *q;
				json_array_foreach(reqs_of(t), j, q) {
					if (!in_list(reqs, json_string_value(q)))
						json_array_append(reqs, q);
				}
				json_object_set_new(t, "requisiteStageRefIds", json_pack("[s]", ref));
			}
			if (!found) {
				json_decref(reqs);
				return mz_fail(err, MZ_EINVAL, "stage '%s' is injected before '%s', which "
				               "the template does not have", ref, json_string_value(v));
			}
		}
		json_object_set_new(s, "requisiteStageRefIds", reqs);
	} else if (json_is_array(json_object_get(how, "after"))) {
		json_t *v;
		size_t k;
		json_array_foreach(json_object_get(how, "after"), k, v) {
			bool found = false;
			json_array_foreach(stages, i, t) {
				found = found || mz_streq(ref_of(t), json_string_value(v));
			}
			if (!found)
				return mz_fail(err, MZ_EINVAL, "stage '%s' is injected after '%s', which "
				               "the template does not have", ref, json_string_value(v));
			json_array_foreach(stages, i, t) {
				replace_req(t, json_string_value(v), ref);
			}
		}
		json_object_set(s, "requisiteStageRefIds", json_object_get(how, "after"));
	} else {
		return mz_fail(err, MZ_EINVAL, "stage '%s': 'inject' needs first, last, before or "
		               "after", ref);
	}
	json_object_del(s, "inject");
	json_array_append(stages, s);
	return MZ_OK;
}

/* Parses "spinnaker://ID[:TAG]" into id and tag (malloc'd). */
static mz_code
parse_reference(const json_t *cfg, char **id, char **tag, mz_err *err)
{
	const char *ref = mz_json_str(json_object_get(cfg, "template"), "reference");
	const char *prefix = "spinnaker://";
	if (!ref || strncmp(ref, prefix, strlen(prefix)) != 0 || !ref[strlen(prefix)])
		return mz_fail(err, MZ_EINVAL, "template 'reference' must be \"spinnaker://ID\" "
		               "(templates stored in mizzen), got '%s'", ref ? ref : "");
	const char *rest = ref + strlen(prefix);
	const char *colon = strchr(rest, ':');
	const char *at = strchr(rest, '@');
	const char *end = colon ? colon : at ? at : rest + strlen(rest);
	*id = mz_strdup(rest);
	(*id)[end - rest] = '\0';
	*tag = colon ? mz_strdup(colon + 1) : NULL;
	return MZ_OK;
}

/* The template cfg references (a new reference), from cache (reference ->
 * template, filled as it goes) when one is given; MZ_EINVAL when there is
 * no such template. */
static mz_code
template_of(mz_store *st, const json_t *cfg, json_t *cache, char **id, char **tag,
            json_t **t, mz_err *err)
{
	mz_code rc = parse_reference(cfg, id, tag, err);
	if (rc)
		return rc;
	const char *ref = mz_json_str(json_object_get(cfg, "template"), "reference");
	*t = json_incref(json_object_get(cache, ref));
	if (*t)
		return MZ_OK;
	rc = mz_template_get(st, *id, *tag, t, err);
	if (rc == MZ_ENOTFOUND)
		rc = mz_fail(err, MZ_EINVAL, "pipeline template '%s%s%s' not found", *id,
		             *tag ? ":" : "", *tag ? *tag : "");
	if (rc == MZ_OK && cache)
		json_object_set(cache, ref, *t);
	return rc;
}

static mz_code
render(mz_store *st, const json_t *cfg, json_t *cache, json_t **out, mz_err *err)
{
	*out = NULL;
	char *id = NULL, *tag = NULL;
	json_t *t = NULL;
	mz_code rc = template_of(st, cfg, cache, &id, &tag, &t, err);
	json_t *vars = rc ? NULL : bind_variables(t, cfg, err);
	if (!rc && !vars)
		rc = MZ_EINVAL;
	json_t *tp = NULL;
	if (!rc) {
		tp = json_deep_copy(json_object_get(t, "pipeline"));
		json_t *root = json_pack("{s:O}", "templateVariables", vars);
		rc = render_value(&tp, root, err);
		json_decref(root);
	}
	if (rc)
		goto done;

	json_t *p = json_deep_copy(cfg);
	json_object_del(p, "schema");
	json_object_del(p, "variables");
	json_object_del(p, "exclude");
	json_object_del(p, "inherit");
	/* fields the template sets and the config does not */
	const char *k;
	json_t *v;
	json_object_foreach(tp, k, v) {
		if (!json_object_get(p, k))
			json_object_set(p, k, v);
	}
	json_t *exclude = json_object_get(cfg, "exclude");
	json_t *inherit = json_object_get(cfg, "inherit");
	bool allow_list = json_array_size(inherit) > 0;
#define INHERITS(name) (!in_list(exclude, name) && (!allow_list || in_list(inherit, name)))
	merge_list(p, tp, cfg, "triggers", "triggers", INHERITS("triggers"));
	merge_list(p, tp, cfg, "parameterConfig", "parameters", INHERITS("parameters"));
	merge_list(p, tp, cfg, "notifications", "notifications", INHERITS("notifications"));
	merge_list(p, tp, cfg, "expectedArtifacts", "expectedArtifacts",
	           INHERITS("expectedArtifacts"));
#undef INHERITS
	json_object_del(p, "parameters");

	json_t *stages = json_deep_copy(json_is_array(json_object_get(tp, "stages"))
	                                ? json_object_get(tp, "stages") : json_array());
	size_t i;
	json_array_foreach(json_object_get(cfg, "stages"), i, v) {
		if (!json_is_object(v) || !ref_of(v)) {
			rc = mz_fail(err, MZ_EINVAL, "stage %zu of a templated pipeline needs a refId",
			             i + 1);
			break;
		}
		json_t *s = json_deep_copy(v);
		json_t *how = json_object_get(v, "inject");
		if (json_is_object(how))
			rc = inject(stages, s, how, err);
		else
			json_array_append(stages, s);
		json_decref(s);
		if (rc)
			break;
	}
	json_object_set_new(p, "stages", stages);
	json_object_set_new(p, "templateRef", json_pack("{s:s, s:s?}", "id", id, "tag", tag));
	if (!rc)
		rc = mz_pipeline_validate(p, err);
	if (rc)
		json_decref(p);
	else
		*out = p;
done:
	json_decref(tp);
	json_decref(vars);
	json_decref(t);
	free(id);
	free(tag);
	return rc;
}

mz_code
mz_template_render(mz_store *st, const json_t *cfg, json_t **out, mz_err *err)
{
	return render(st, cfg, NULL, out, err);
}

/* What a templated config inherits that the trigger machinery reads. */
static const char *const trigger_view_keys[] = {"triggers", "parameterConfig",
                                                "expectedArtifacts", NULL};

json_t *
mz_template_trigger_views(mz_store *st, const json_t *cfgs)
{
	json_t *out = json_array();
	json_t *cache = json_object();
	size_t i;
	json_t *cfg;
	json_array_foreach(cfgs, i, cfg) {
		json_t *rendered = NULL;
		mz_err err = {0};
		if (!mz_template_is_v2_config(cfg)) {
			json_array_append(out, cfg);
		} else if (render(st, cfg, cache, &rendered, &err) != MZ_OK) {
			mz_debug("templates: pipeline %s (%s) does not render, its own triggers only: %s",
			         mz_json_str(cfg, "name"), mz_json_str(cfg, "id"), err.msg);
			json_array_append(out, cfg);
		} else {
			json_t *view = json_copy((json_t *)cfg);
			for (int k = 0; trigger_view_keys[k]; k++) {
				json_t *v = json_object_get(rendered, trigger_view_keys[k]);
				if (v)
					json_object_set(view, trigger_view_keys[k], v);
			}
			json_array_append_new(out, view);
			json_decref(rendered);
		}
	}
	json_decref(cache);
	return out;
}
