package redrive

import (
	"github.com/tenaz/tenaz/shared/config"
)

// EnvLimit names the redrive limit setting of the redrive function: the redriveCount
// at which a message stays in the dead-letter queue; default 3, 1..1000.
const EnvLimit = "TENAZ_REDRIVE_LIMIT"

// LoadSettings reads the redrive function's settings from the environment (not the
// queue URLs or table name, which only the Lambda main needs).
func LoadSettings(getenv config.Getenv) (Settings, error) {
	limit, err := config.Int(getenv, EnvLimit, DefaultLimit, 1, 1000)
	if err != nil {
		return Settings{}, err
	}
	return Settings{Limit: limit}.withDefaults(), nil
}
