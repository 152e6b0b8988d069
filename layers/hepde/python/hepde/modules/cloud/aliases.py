"""The original's AWS, GCE and NERSC module paths (and the factory-entry → AWS data modules) → ours."""

from __future__ import annotations

_O = "decisionengine_modules"
_AWS_S, _AWS_T = "hepde.modules.cloud.aws.sources", "hepde.modules.cloud.aws.transforms"
_GCE_S, _GCE_T = "hepde.modules.cloud.gce.sources", "hepde.modules.cloud.gce.transforms"
_NERSC_S, _NERSC_T = "hepde.modules.cloud.nersc.sources", "hepde.modules.cloud.nersc.transforms"
_AWS_FE = "hepde.modules.cloud.aws.factory_entry_data"

ALIASES: dict[str, str] = {
    f"{_O}.AWS.sources.AWSSpotPrice": f"{_AWS_S}:AWSSpotPrice",
    f"{_O}.AWS.sources.AWSOccupancy": f"{_AWS_S}:AWSOccupancy",
    f"{_O}.AWS.sources.AWSInstancePerformance": f"{_AWS_S}:AWSInstancePerformance",
    f"{_O}.AWS.sources.AWSJobLimits": f"{_AWS_S}:AWSJobLimits",
    f"{_O}.AWS.sources.FinancialParameters": f"{_AWS_S}:FinancialParameters",
    f"{_O}.AWS.sources.LocalCapacity": f"{_AWS_S}:LocalCapacity",
    f"{_O}.AWS.transforms.AWSSpotPrice": f"{_AWS_T}:AWSSpotPrice",
    f"{_O}.AWS.transforms.AWSOccupancy": f"{_AWS_T}:AWSOccupancy",
    f"{_O}.AWS.transforms.FigureOfMerit": f"{_AWS_T}:FigureOfMerit",
    f"{_O}.AWS.transforms.AwsBurnRate": f"{_AWS_T}:AwsBurnRate",
    f"{_O}.glideinwms.transforms.gwms_to_aws_data": f"{_AWS_FE}:AWSFactoryEntryData",
    f"{_O}.glideinwms.publishers.gwms_to_aws_data": f"{_AWS_FE}:AWSFactoryEntryDataPublisher",
    f"{_O}.GCE.sources.GceOccupancy": f"{_GCE_S}:GceOccupancy",
    f"{_O}.GCE.sources.GCEInstancePerformance": f"{_GCE_S}:GCEInstancePerformance",
    f"{_O}.GCE.transforms.GceFigureOfMerit": f"{_GCE_T}:GceFigureOfMerit",
    f"{_O}.GCE.transforms.GceBurnRate": f"{_GCE_T}:GceBurnRate",
    f"{_O}.NERSC.sources.NerscSFApi": f"{_NERSC_S}:NerscSFApi",
    f"{_O}.NERSC.sources.NerscInstancePerformance": f"{_NERSC_S}:NerscInstancePerformance",
    f"{_O}.NERSC.transforms.NerscFigureOfMerit": f"{_NERSC_T}:NerscFigureOfMerit",
}
