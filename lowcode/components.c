/* Component tables written for sluice. The implicit-type table mirrors what
 * the CDK's component transformer fills in (notes/lowcode.md 6.1). */
#include <stddef.h>
#include <string.h>

#include "components.h"

typedef struct pair {
  const char *field, *type;
} pair;

/* "<ParentType>.<field>" -> the type of an untyped mapping found there. */
static const pair DEFAULT_TYPES[] = {
    {"AddFields.fields", "AddedFieldDefinition"},
    /* async: the schema does not require AsyncJobStatusMap's `type` and the
     * CDK's model takes the mapping untyped (sendgrid, amazon-ads write it so) */
    {"AsyncRetriever.status_mapping", "AsyncJobStatusMap"},
    {"CompositeErrorHandler.error_handlers", "DefaultErrorHandler"},
    {"ConfigComponentsResolver.components_mapping", "ComponentMappingDefinition"},
    {"ConfigComponentsResolver.stream_config", "StreamConfig"},
    {"CursorPagination.decoder", "JsonDecoder"},
    {"CustomPartitionRouter.parent_stream_configs", "ParentStreamConfig"},
    {"DatetimeBasedCursor.end_datetime", "MinMaxDatetime"},
    {"DatetimeBasedCursor.end_time_option", "RequestOption"},
    {"DatetimeBasedCursor.start_datetime", "MinMaxDatetime"},
    {"DatetimeBasedCursor.start_time_option", "RequestOption"},
    {"DeclarativeSource.check", "CheckStream"},
    {"DeclarativeSource.spec", "Spec"},
    {"DeclarativeSource.streams", "DeclarativeStream"},
    {"DeclarativeStream.retriever", "SimpleRetriever"},
    {"DeclarativeStream.schema_loader", "JsonFileSchemaLoader"},
    {"DefaultErrorHandler.response_filters", "HttpResponseFilter"},
    {"DefaultPaginator.decoder", "JsonDecoder"},
    {"DefaultPaginator.page_size_option", "RequestOption"},
    {"DpathExtractor.decoder", "JsonDecoder"},
    {"DpathExtractor.record_expander", "RecordExpander"},
    /* Spelled as in the CDK, which has no such component: such a mapping
     * fails validation there too. */
    {"DynamicDeclarativeStream.components_resolver", "ConfigComponentResolver"},
    {"DynamicDeclarativeStream.stream_template", "DeclarativeStream"},
    {"DynamicSchemaLoader.retriever", "SimpleRetriever"},
    {"HttpComponentsResolver.components_mapping", "ComponentMappingDefinition"},
    {"HttpComponentsResolver.retriever", "SimpleRetriever"},
    {"HttpRequester.error_handler", "DefaultErrorHandler"},
    {"ListPartitionRouter.request_option", "RequestOption"},
    {"ParentStreamConfig.request_option", "RequestOption"},
    {"ParentStreamConfig.stream", "DeclarativeStream"},
    {"RecordSelector.extractor", "DpathExtractor"},
    {"RecordSelector.record_filter", "RecordFilter"},
    {"SchemaTypeIdentifier.types_map", "TypesMap"},
    {"SimpleRetriever.paginator", "NoPagination"},
    {"SimpleRetriever.record_selector", "RecordSelector"},
    {"SimpleRetriever.requester", "HttpRequester"},
    {"StreamGroup.streams", "DeclarativeStream"},
    {"SubstreamPartitionRouter.parent_stream_configs", "ParentStreamConfig"},
    {NULL, NULL},
};

/* The same for mappings with `class_name` (Python components). */
static const pair CUSTOM_TYPES[] = {
    {"CompositeErrorHandler.backoff_strategies", "CustomBackoffStrategy"},
    {"DeclarativeStream.retriever", "CustomRetriever"},
    {"DeclarativeStream.transformations", "CustomTransformation"},
    {"DefaultErrorHandler.backoff_strategies", "CustomBackoffStrategy"},
    {"DefaultPaginator.pagination_strategy", "CustomPaginationStrategy"},
    {"HttpRequester.authenticator", "CustomAuthenticator"},
    {"HttpRequester.error_handler", "CustomErrorHandler"},
    {"RecordSelector.extractor", "CustomRecordExtractor"},
    {"SimpleRetriever.partition_router", "CustomPartitionRouter"},
    {NULL, NULL},
};

static const pair ADDITIONAL_PROPS[] = {
    {"DeclarativeSource.stream_groups", "StreamGroup"},
    {NULL, NULL},
};

static const char *find(const pair *t, const char *field) {
  for (; t->field; t++)
    if (!strcmp(t->field, field)) return t->type;
  return NULL;
}

const char *sl_lc_default_type(const char *parent_field) { return find(DEFAULT_TYPES, parent_field); }
const char *sl_lc_custom_type(const char *parent_field) { return find(CUSTOM_TYPES, parent_field); }
const char *sl_lc_additional_props_type(const char *parent_field) { return find(ADDITIONAL_PROPS, parent_field); }

/* ---- component table lookups and what sluice supports ---- */

/* notes/lowcode.md 5.1, the MUST tier (by `type` value), plus the sub-objects
 * those components embed. */
static const char *const SUPPORTED[] = {
    "DeclarativeSource", "DeclarativeStream", "SimpleRetriever", "HttpRequester", "RecordSelector",
    "DpathExtractor", "InlineSchemaLoader", "JsonFileSchemaLoader", "CheckStream", "Spec", "RequestOption", "RequestPath", "JsonDecoder",
    "NoPagination", "NoAuth", "DefaultPaginator", "CursorPagination", "PageIncrement", "OffsetIncrement",
    "ApiKeyAuthenticator", "BearerAuthenticator", "BasicHttpAuthenticator", "OAuthAuthenticator",
    "SelectiveAuthenticator", "SessionTokenAuthenticator", "Bearer", "ApiKey", "DatetimeBasedCursor", "IncrementingCountCursor",
    "MinMaxDatetime", "SubstreamPartitionRouter", "ParentStreamConfig", "ListPartitionRouter",
    "DefaultErrorHandler", "CompositeErrorHandler", "HttpResponseFilter", "ExponentialBackoffStrategy",
    "ConstantBackoffStrategy", "WaitTimeFromHeader", "WaitUntilTimeFromHeader", "AddFields",
    "AddedFieldDefinition", "RemoveFields", "RecordFilter",
    /* the SHOULD tier (notes 5.2) */
    "KeysToLower", "KeysToSnakeCase", "KeysReplace", "FlattenFields", "DpathFlattenFields", "KeyTransformation",
    "JsonlDecoder", "CsvDecoder", "XmlDecoder", "GzipDecoder", "ZipfileDecoder", "IterableDecoder", "JsonItemsDecoder",
    "ConfigNormalizationRules", "ConfigMigration", "ConfigAddFields", "ConfigRemapField", "ConfigRemoveFields",
    "DpathValidator", "PredicateValidator", "ValidateAdheresToSchema",
    "HTTPAPIBudget", "MovingWindowCallRatePolicy", "FixedWindowCallRatePolicy", "UnlimitedCallRatePolicy",
    "HttpRequestRegexMatcher", "Rate", "ConcurrencyLevel", "LegacyToPerPartitionStateMigration",
    /* authenticators, request bodies, routers (helper "requests") */
    "JwtAuthenticator", "LegacySessionTokenAuthenticator", "RequestBodyPlainText", "RequestBodyUrlEncodedForm", "RequestBodyJsonObject", "RequestBodyGraphQL",
    "RequestBodyGraphQlQuery", "GroupingPartitionRouter", "UnionPartitionRouter",
    "RateLimitedMultipleTokenAuthenticator", "QuotaStatusSource", "TokenQuota",
    /* async (AsyncRetriever, PaginationReset) */
    "AsyncRetriever", "AsyncJobStatusMap", "PaginationReset", "PaginationResetLimits",
    /* dynamic streams, dynamic schemas, StateDelegatingStream (dynamic.c, dynschema.c, source.c) */
    "DynamicDeclarativeStream", "HttpComponentsResolver", "ConfigComponentsResolver", "ParametrizedComponentsResolver",
    "StreamParametersDefinition", "StreamConfig", "ComponentMappingDefinition", "DynamicSchemaLoader",
    "SchemaTypeIdentifier", "TypesMap", "ComplexFieldType", "StateDelegatingStream", "ConditionalStreams",
    "CheckDynamicStream", "DynamicStreamCheckConfig",
    /* sub-objects without `type` */
    "RefreshTokenUpdater", "OAuthConfigSpecification", "AuthFlow", "Schemas", NULL,
};

const sl_lc_component *sl_lc_by_name(const char *definition) {
  for (const sl_lc_component *c = SL_LC_COMPONENTS; c->name; c++)
    if (!strcmp(c->name, definition)) return c;
  return NULL;
}

const sl_lc_component *sl_lc_by_type(const char *type_value) {
  for (const sl_lc_component *c = SL_LC_COMPONENTS; c->name; c++)
    if (c->type_name && !strcmp(c->type_name, type_value)) return c;
  return NULL;
}

const sl_lc_field *sl_lc_field_of(const sl_lc_component *c, const char *name) {
  for (const sl_lc_field *f = c->fields; f->name; f++)
    if (!strcmp(f->name, name)) return f;
  return NULL;
}

const char *sl_lc_unsupported(const char *type_value) {
  for (const char *const *s = SUPPORTED; *s; s++)
    if (!strcmp(*s, type_value)) return NULL;
  if (!strncmp(type_value, "Custom", 6)) return "needs Python";
  return "not supported yet";
}
