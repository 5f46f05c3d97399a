"""An app whose orchestrator calls an activity that does not exist."""

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.orchestration_trigger(context_name="context")
def calls_missing_activity(context: df.DurableOrchestrationContext):
    result = yield context.call_activity("missing", 1)
    return result
