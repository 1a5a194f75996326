// XGBoost's C API (Debian libxgboost-dev): gradient-boosted trees and their exact SHAP
// contributions.
#include <xgboost/c_api.h>
